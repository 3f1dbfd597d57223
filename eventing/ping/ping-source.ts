import { randomUUID } from "node:crypto";
import { type CronerSchedule, checkPingSchedule } from "../../runtime/cron.ts";
import { knativeOidcServiceAccount, serviceAccountSubject } from "../../runtime/knative-oidc.ts";
import { destinationAudience, resolveDestination } from "../broker/destination.ts";
import { describeObject, isRecord, type KnativeObject, namespaceOf, ObjectError } from "../broker/objects.ts";
import { ceOverrideAttributeName, ceOverrideNameProblem } from "../cloudevent/ce-overrides.ts";
import type { CloudEvent } from "../cloudevent/event.ts";

/**
 * A PingSource (sources.knative.dev/v1) read with Knative's webhook rules (pkg/apis/sources/v1/ping_validation.go)
 * and turned into what the scheduler needs: a croner schedule, the resolved sink and a way to build each tick's event
 * the way the mtping adapter does (pkg/adapter/mtping/runner.go).
 */
const PING_EVENT_TYPE = "dev.knative.sources.ping";
const DEFAULT_PING_SCHEDULE = "* * * * *";

export interface CompiledPingSource {
  namespace: string;
  name: string;
  schedule: CronerSchedule;
  sink: string;
  /** The sink's OIDC audience (a Broker's, or `spec.sink.audience`): ticks then carry a token for it. */
  sinkAudience?: string;
  /**
   * Who the ticks are sent as: the PingSource's OIDC ServiceAccount,
   * `system:serviceaccount:<namespace>:<name>-oidc-sources.knative.dev-pingsource` (pkg/reconciler/pingsource, the
   * mtping adapter sends with it), which an EventPolicy names with a `from.ref` to the PingSource.
   */
  identity: string;
  contentType?: string;
  data?: Uint8Array;
  extensions: Record<string, string>;
}

const SPEC_FIELDS = new Set(["schedule", "timezone", "contentType", "data", "dataBase64", "sink", "ceOverrides"]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function pingSourceUri(namespace: string, name: string): string {
  return `/apis/v1/namespaces/${namespace}/pingsources/${name}`;
}

export function compilePingSource(object: KnativeObject): CompiledPingSource {
  const id = describeObject(object);
  const namespace = namespaceOf(object);
  const spec = object.spec;
  if (!isRecord(spec)) throw new ObjectError(id, "spec", "required", "a PingSource needs a spec");
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.has(key)) throw new ObjectError(id, `spec.${key}`, "unknown-field", "not a PingSource spec field");
  }
  const scheduleText = spec.schedule ?? DEFAULT_PING_SCHEDULE;
  if (typeof scheduleText !== "string") throw new ObjectError(id, "spec.schedule", "cron-syntax", "must be a string");
  if (spec.timezone !== undefined && typeof spec.timezone !== "string") {
    throw new ObjectError(id, "spec.timezone", "timezone", "must be a string");
  }
  const check = checkPingSchedule(scheduleText, spec.timezone as string | undefined);
  if (!check.ok) {
    const problem = check.problems[0]!;
    throw new ObjectError(id, `spec.${problem.field}`, problem.rule, problem.message);
  }
  if (spec.contentType !== undefined && (typeof spec.contentType !== "string" || spec.contentType === "")) {
    throw new ObjectError(id, "spec.contentType", "content-type", "must be a non-empty string");
  }
  const contentType = spec.contentType as string | undefined;
  const compiled: CompiledPingSource = {
    namespace,
    name: object.metadata.name,
    schedule: check.schedule,
    sink: resolveDestination(spec.sink, namespace, id, "spec.sink"),
    identity: serviceAccountSubject(
      namespace,
      knativeOidcServiceAccount({ group: "sources.knative.dev", kind: "PingSource", name: object.metadata.name }),
    ),
    extensions: readExtensions(spec.ceOverrides, id),
  };
  const sinkAudience = destinationAudience(spec.sink, namespace, id, "spec.sink");
  if (sinkAudience !== undefined) compiled.sinkAudience = sinkAudience;
  if (contentType !== undefined) compiled.contentType = contentType;
  const data = readData(spec, contentType, id);
  if (data !== undefined) compiled.data = data;
  return compiled;
}

function readData(spec: Record<string, unknown>, contentType: string | undefined, id: string): Uint8Array | undefined {
  const { data, dataBase64 } = spec;
  if (data !== undefined && typeof data !== "string")
    throw new ObjectError(id, "spec.data", "ping-data", "must be a string");
  if (dataBase64 !== undefined && typeof dataBase64 !== "string") {
    throw new ObjectError(id, "spec.dataBase64", "ping-data", "must be a string");
  }
  if (data && dataBase64)
    throw new ObjectError(id, "spec", "ping-data-one-of", "expected exactly one of data, dataBase64, not both");
  let bytes: Uint8Array | undefined;
  let field = "spec.data";
  if (dataBase64) {
    field = "spec.dataBase64";
    if (!BASE64.test(dataBase64)) throw new ObjectError(id, field, "ping-data-base64", "is not valid base64");
    bytes = Buffer.from(dataBase64, "base64");
  } else if (data) {
    bytes = new TextEncoder().encode(data);
  }
  if (bytes !== undefined && (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase() === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      parsed = undefined;
    }
    if (!isRecord(parsed))
      throw new ObjectError(
        id,
        field,
        "ping-data-json",
        "with contentType application/json the data must be a JSON object",
      );
  }
  return bytes;
}

function readExtensions(overrides: unknown, id: string): Record<string, string> {
  if (overrides === undefined || overrides === null) return {};
  if (!isRecord(overrides)) throw new ObjectError(id, "spec.ceOverrides", "ce-overrides", "must be an object");
  const extensions = overrides.extensions ?? {};
  if (!isRecord(extensions)) throw new ObjectError(id, "spec.ceOverrides.extensions", "ce-overrides", "must be a map");
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(extensions)) {
    const problem = ceOverrideNameProblem(name);
    if (problem) throw new ObjectError(id, `spec.ceOverrides.extensions.${name}`, problem.rule, problem.message);
    if (typeof value !== "string")
      throw new ObjectError(id, `spec.ceOverrides.extensions.${name}`, "ce-overrides", "must be a string");
    out[ceOverrideAttributeName(name)] = value;
  }
  return out;
}

/** One tick's event: a fresh id, `time` = the tick, the configured data untouched, the ceOverrides' extensions added. */
export function makePingEvent(ping: CompiledPingSource, now: Date): CloudEvent {
  const attributes: Record<string, string> = {
    specversion: "1.0",
    id: randomUUID(),
    source: pingSourceUri(ping.namespace, ping.name),
    type: PING_EVENT_TYPE,
    time: now.toISOString(),
  };
  if (ping.contentType !== undefined) attributes.datacontenttype = ping.contentType;
  Object.assign(attributes, ping.extensions);
  return ping.data === undefined ? { attributes } : { attributes, data: ping.data };
}
