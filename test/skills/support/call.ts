import type { KeyObject } from "node:crypto";
import { makeEvent, readEvent, type ToolCompleted } from "../../../eventing/catalog/index.ts";
import { TOOL_COMPLETED, TOOL_REQUESTED } from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny, encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { eventSigner } from "../../../eventing/trust/event-signature.ts";
import { agentRole } from "../../../eventing/trust/roles.ts";
import type { FunctionApp } from "../../../runtime/function.ts";
import { argumentsDigest } from "../../../skills/runtime/canonical-json.ts";
import { signCapability } from "../../../skills/runtime/capability.ts";

export interface ToolCall {
  runId: string;
  callId: string;
  instance: string;
  skill: string;
  tool: string;
  arguments: unknown;
}

/**
 * A tool.requested as the agent sends it: its capability token signed over `tokenArguments` (the call's own arguments
 * unless a test wants the two to differ), and the event itself signed as `agent/<instance>` with the same key (or
 * `eventKey`, for a token forged inside a well-signed event), as the agent signs everything it emits.
 */
export function signedToolRequest(
  call: ToolCall,
  signing: KeyObject,
  tokenArguments: unknown = call.arguments,
  eventKey: KeyObject = signing,
) {
  const { runId, callId, instance, skill, tool } = call;
  const token = signCapability(
    { runId, instance, skill, tool, callId, digest: argumentsDigest(tokenArguments) },
    signing,
  );
  const event = makeEvent(TOOL_REQUESTED, {
    id: callId,
    source: `/agents/${instance}`,
    data: { ...call, arguments: call.arguments as Record<string, unknown>, token },
  });
  return eventSigner(agentRole(instance), eventKey).sign(event);
}

/** POSTs the event to a skill app in binary mode; the tool.completed it answers with, if any. */
export async function postToolRequest(
  app: FunctionApp,
  event: CloudEvent,
): Promise<{ status: number; completed?: ToolCompleted }> {
  const { headers, body } = encodeEvent(event, "binary");
  const response = await app.fetch(
    new Request("http://skill/", { method: "POST", headers, body: body as ConstructorParameters<typeof Response>[0] }),
  );
  const reply = decodeMessageIfAny(response.headers, new Uint8Array(await response.arrayBuffer()));
  return reply ? { status: response.status, completed: readEvent(reply, TOOL_COMPLETED) } : { status: response.status };
}
