import { readFileSync } from "node:fs";
import { ZodError } from "zod";
import { EVENT_SCHEMAS, type EventType } from "../eventing/catalog/events.ts";
import { makeEvent } from "../eventing/catalog/make.ts";
import { isUnsignedRule, PRODUCER_RULES } from "../eventing/catalog/producers.ts";
import type { CloudEvent } from "../eventing/cloudevent/event.ts";
import { eventSigner } from "../eventing/trust/event-signature.ts";
import { OPERATOR_ROLE } from "../eventing/trust/roles.ts";
import { parsePrivateKey } from "../runtime/keys.ts";
import { readSessionToken } from "./session-tokens.ts";

/**
 * `knclaw send --sign`: the event signed as the `operator` producer role, so the platform's consumers act on it
 * (eventing/trust/README.md). The catalog lets the operator sign one thing, a `run.requested` that names no requester
 * and no session (eventing/catalog/producers.ts): such a run's held calls wait for the approvers its policy names,
 * and it reads and writes no one's conversation. So the operator can start a run on any instance, answering on any route, and can never speak
 * as a person, decide an approval, answer a tool call or end a run. Anything else is refused here, before it is sent.
 *
 * The key: --signing-key-file, else $KNCLAW_OPERATOR_SIGNING_KEY (PEM, or base64), else, for a `knclaw dev` on this
 * machine, the session file it writes for its port (the key it generated and keeps in its state directory). On a
 * cluster it is `knclaw secrets generate`'s Secret `knclaw-event-keys`, key `operator`.
 */
const KEY_ENV = "KNCLAW_OPERATOR_SIGNING_KEY";

class OperatorSigningError extends Error {
  override readonly name = "OperatorSigningError";
}

export function operatorSigningKey(keyFile: string | undefined, target: string): string {
  if (keyFile !== undefined) {
    const key = readFileSync(keyFile, "utf8").trim();
    if (!key) throw new OperatorSigningError(`${keyFile} is empty`);
    return key;
  }
  const key = process.env[KEY_ENV] || readSessionToken("operator-signing-key", target);
  if (key === undefined) {
    throw new OperatorSigningError(
      `--sign: no operator signing key: give --signing-key-file or $${KEY_ENV} (on a cluster: Secret knclaw-event-keys, key operator), or send to a knclaw dev on this machine`,
    );
  }
  return key;
}

/** The event as the catalog builds it (schema checked, routing extensions from its data), signed as the operator. */
export function signAsOperator(event: CloudEvent, keyPem: string): CloudEvent {
  const type = event.attributes.type ?? "";
  if (!Object.hasOwn(EVENT_SCHEMAS, type)) throw new OperatorSigningError(`--sign: ${type} is not a knclaw event type`);
  const rule = PRODUCER_RULES[type as EventType];
  const data = jsonData(event);
  const extensions = Object.entries(event.attributes).filter(([name]) => !CORE.has(name));
  const routing = extensions.find(([name]) => name.startsWith("knclaw"));
  if (routing !== undefined) {
    throw new OperatorSigningError(`--sign: --extension ${routing[0]}: knclaw's extensions follow from the data`);
  }
  if (isUnsignedRule(rule) || !rule.allowed(data).includes(OPERATOR_ROLE)) {
    const who = isUnsignedRule(rule) ? "nobody signs it" : `only ${rule.summary} may sign it`;
    throw new OperatorSigningError(
      `--sign: the operator may not sign this ${type} (${who}); the operator may sign a run.requested without requestedBy and sessionKey`,
    );
  }
  let built: CloudEvent;
  try {
    built = makeEvent(type as EventType, {
      source: event.attributes.source!,
      id: event.attributes.id!,
      data: data as never,
      ...(event.attributes.subject !== undefined ? { subject: event.attributes.subject } : {}),
      ...(event.attributes.time !== undefined ? { time: new Date(event.attributes.time) } : {}),
      extensions: Object.fromEntries(extensions),
    });
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    const problems = error.issues.map((issue) => `${issue.path.join(".") || "data"}: ${issue.message}`);
    throw new OperatorSigningError(`--sign: not a valid ${type}: ${problems.join("; ")}`);
  }
  return eventSigner(OPERATOR_ROLE, parsePrivateKey(keyPem, "the operator signing key")).sign(built);
}

const CORE = new Set(["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema"]);

function jsonData(event: CloudEvent): Record<string, unknown> {
  const type = event.attributes.datacontenttype ?? "";
  if (event.data === undefined || !/^application\/json(;|$)/.test(type)) {
    throw new OperatorSigningError("--sign: a knclaw event's data is JSON (--data, --data-file or --field)");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(event.data));
  } catch {
    throw new OperatorSigningError("--sign: the data is not JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new OperatorSigningError("--sign: the data is not a JSON object");
  }
  return parsed as Record<string, unknown>;
}
