import type { KeyObject } from "node:crypto";
import { HTTP, type CloudEvent as SdkCloudEvent } from "cloudevents";
import { routingExtensions } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import { decodeMessage } from "../../eventing/cloudevent/http-codec.ts";
import { eventSigner } from "../../eventing/trust/event-signature.ts";
import { skillRole } from "../../eventing/trust/roles.ts";
import { EXT_PRODUCER, EXT_SIGNATURE } from "../../eventing/trust/signing-input.ts";
import { parsePrivateKey } from "../../runtime/keys.ts";

/**
 * The one call an external skill written with the `cloudevents` SDK (a knative/func Node function, say) makes on its
 * answer: `return signSkillReply(reply, { skill, key })`. The platform acts on a `dev.knclaw.tool.completed` only when
 * it is signed by the skill the call was sent to (eventing/trust), and routes it by `knclawinstance` and `knclawrun`;
 * this sets both routing extensions from the reply's own data (`instance`, `runId`) and signs the event as
 * `skill/<skill>` with the skill's Ed25519 key (the Secret key `knclaw secrets generate` makes for it).
 *
 * The signature covers the exact data bytes the SDK sends: send the returned event as it is (binary mode, as
 * knative/func answers, or structured: the data is a JSON object either way). Changing it afterwards, data or
 * attributes, breaks the signature and the agent refuses the reply.
 */
export function signSkillReply<T>(
  reply: SdkCloudEvent<T>,
  options: { skill: string; key: string | KeyObject },
): SdkCloudEvent<T> {
  if (reply.type !== T.TOOL_COMPLETED) {
    throw new TypeError(`a skill answers with ${T.TOOL_COMPLETED}, not ${reply.type}`);
  }
  const data: unknown = reply.data;
  if (typeof data !== "object" || data === null || Array.isArray(data) || ArrayBuffer.isView(data)) {
    throw new TypeError(`a ${T.TOOL_COMPLETED} carries a JSON object as its data`);
  }
  const key = typeof options.key === "string" ? parsePrivateKey(options.key, "the skill's signing key") : options.key;
  // A producer or signature already on the reply is replaced below (the signer sets its own before signing).
  const routed = reply.cloneWith(routingExtensions(T.TOOL_COMPLETED, data as Record<string, unknown>));
  // What the receiver will see: the SDK's own binary encoding of the event, decoded as knclaw decodes deliveries.
  const message = HTTP.binary(routed);
  const body = typeof message.body === "string" ? Buffer.from(message.body) : Buffer.from(message.body as Uint8Array);
  const signed = eventSigner(skillRole(options.skill), key).sign(
    decodeMessage("binary", new Headers(message.headers as Record<string, string>), body),
  );
  return routed.cloneWith({
    [EXT_PRODUCER]: signed.attributes[EXT_PRODUCER],
    [EXT_SIGNATURE]: signed.attributes[EXT_SIGNATURE],
  });
}
