import type { HeaderReader } from "../cloudevent/http-codec.ts";

/**
 * Headers the broker carries from an ingress request to every delivery (utils.PassThroughHeaders in
 * knative/eventing): `x-request-id`, `retry-after`, anything `knative-*`, and tracing headers (W3C trace context and
 * B3). Everything else, `ce-*` included, is dropped: attributes travel in the event itself.
 */
const FORWARDED = new Set(["x-request-id", "retry-after", "traceparent", "tracestate", "b3"]);
const FORWARDED_PREFIXES = ["knative-", "x-b3-"];

function isPassThroughHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return FORWARDED.has(lower) || FORWARDED_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

export function passThroughHeaders(headers: HeaderReader): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (isPassThroughHeader(name)) out[name.toLowerCase()] = value;
  });
  return out;
}
