import { createHash } from "node:crypto";
import type { CloudEvent } from "../cloudevent/event.ts";

/** The extension carrying the producer's role (eventing/trust/roles.ts); signed like every `knclaw*` attribute. */
export const EXT_PRODUCER = "knclawproducer";
/** The extension carrying the signature itself: `v1.<kid>.<base64url Ed25519 signature>`. */
export const EXT_SIGNATURE = "knclawsignature";

/** Context attributes a signature covers, in this order, each only when the event has it. */
const CORE_ATTRIBUTES = ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema"];
const DOMAIN = "knclaw-event-signature/v1";

/**
 * The bytes an event signature covers (version 1), built so that no two different events give the same bytes:
 *
 *   "knclaw-event-signature/v1"
 *   then for each covered attribute the event has: <name> ":" <UTF-8 byte length of value> ":" <value>
 *   then "data" ":" <length> ":" "sha256:" <hex SHA-256 of the exact data bytes (none: of zero bytes)>
 *
 * Covered: the core attributes above in that order, then every extension whose name starts with `knclaw` (the
 * routing extensions, the producer role and any binding extension) except the signature, in code-unit order.
 * Names are `[a-z0-9]+` and every value is length-prefixed, so fields can neither merge nor be reordered. Other
 * extensions (trace context, Knative's `knativebrokerttl`, which the broker changes) are not covered.
 *
 * `time` is covered in its canonical form (UTC, `Z`, fractional seconds without trailing zeros, none when zero):
 * an event that crosses a Go CloudEvents SDK hop (Knative's broker) comes out with its time re-printed that way.
 */
export function signingInput(event: CloudEvent): Buffer {
  const parts: string[] = [DOMAIN];
  const field = (name: string, value: string) => parts.push(`${name}:${Buffer.byteLength(value, "utf8")}:${value}`);
  const attributes = event.attributes;
  for (const name of CORE_ATTRIBUTES) {
    const value = attributes[name];
    if (value !== undefined) field(name, name === "time" ? canonicalTime(value) : value);
  }
  const extensions = Object.keys(attributes)
    .filter((name) => name.startsWith("knclaw") && name !== EXT_SIGNATURE)
    .sort();
  for (const name of extensions) field(name, attributes[name]!);
  field("data", dataDigest(event.data));
  return Buffer.from(parts.join(""), "utf8");
}

function dataDigest(data: Uint8Array | undefined): string {
  return `sha256:${createHash("sha256")
    .update(data ?? new Uint8Array())
    .digest("hex")}`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp as Go's RFC3339Nano prints it in UTC; anything else as it is. */
export function canonicalTime(value: string): string {
  const match = RFC3339.exec(value);
  if (match === null) return value;
  const [, date, clock, fraction = "", zone] = match;
  const seconds = Date.parse(`${date}T${clock}${zone!.toUpperCase()}`);
  if (Number.isNaN(seconds)) return value;
  const trimmed = fraction.replace(/0+$/, "");
  return `${new Date(seconds).toISOString().slice(0, 19)}${trimmed === "" ? "" : `.${trimmed}`}Z`;
}
