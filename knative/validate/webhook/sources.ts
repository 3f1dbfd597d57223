/**
 * PingSource (pkg/apis/sources/v1/ping_validation.go) and SinkBinding (sinkbinding_validation.go): schedule and
 * timezone as robfig/cron reads them with `@every` refused, a valid sink, `data` and `dataBase64` never both,
 * dataBase64 valid base64, JSON data a JSON object when contentType is application/json, size limits, and
 * ceOverrides extension names alphanumeric and never a CloudEvents spec attribute (eventing/cloudevent/ce-overrides.ts). A SinkBinding's subject needs apiVersion, kind and exactly one of
 * name/selector, in the binding's own namespace.
 */
import { ceOverrideAttributeName, ceOverrideNameProblem } from "../../../eventing/cloudevent/ce-overrides.ts";
import { checkPingSchedule } from "../../../runtime/cron.ts";
import type { WebhookOptions } from "../options.ts";
import { isObject, type Json, join, type ProblemSink, str } from "../problems.ts";
import { validateDestination } from "./destination.ts";

export const DEFAULT_PING_SCHEDULE = "* * * * *";

export function validatePingSource(object: Json, sink: ProblemSink, options: WebhookOptions): void {
  const meta = isObject(object.metadata) ? object.metadata : {};
  const spec = isObject(object.spec) ? object.spec : undefined;
  if (spec === undefined) {
    sink.error("spec", "required", "missing field(s): spec");
    return;
  }
  const schedule = str(spec.schedule) || DEFAULT_PING_SCHEDULE;
  const timezone = str(spec.timezone);
  const check = checkPingSchedule(schedule, timezone);
  if (!check.ok) {
    for (const p of check.problems) sink.error(`spec.${p.field}`, p.rule, `invalid value: ${p.message}`);
  }
  if (spec.sink === undefined) sink.error("spec.sink", "destination", "expected at least one, got none: ref, uri");
  else validateDestination(spec.sink, "spec.sink", sink, str(meta.namespace));

  const data = spec.data;
  const dataBase64 = spec.dataBase64;
  const contentType = str(spec.contentType);
  if (data !== undefined && typeof data !== "string") sink.error("spec.data", "schema", "must be a string");
  if (dataBase64 !== undefined && typeof dataBase64 !== "string")
    sink.error("spec.dataBase64", "schema", "must be a string");
  if (str(data) && str(dataBase64)) {
    sink.error("spec", "ping-data-one-of", "expected exactly one, got both: spec.data, spec.dataBase64");
  } else if (str(dataBase64)) {
    const text = dataBase64 as string;
    if (options.pingDataMaxSize > -1 && text.length > options.pingDataMaxSize) {
      sink.error(
        "spec.dataBase64",
        "ping-data-size",
        `the dataBase64 length of ${text.length} bytes exceeds limit set at ${options.pingDataMaxSize}.`,
      );
    }
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
      sink.error("spec.dataBase64", "ping-data-base64", "invalid value: illegal base64 data");
    } else if (contentType === "application/json") {
      const why = jsonObjectError(Buffer.from(text, "base64").toString("utf8"));
      if (why) sink.error("spec.dataBase64", "ping-data-json", `invalid value: ${why}`);
    }
  } else if (str(data)) {
    const text = data as string;
    if (options.pingDataMaxSize > -1 && Buffer.byteLength(text) > options.pingDataMaxSize) {
      sink.error(
        "spec.data",
        "ping-data-size",
        `the data length of ${Buffer.byteLength(text)} bytes exceeds limit set at ${options.pingDataMaxSize}.`,
      );
    }
    if (contentType === "application/json") {
      const why = jsonObjectError(text);
      if (why) sink.error("spec.data", "ping-data-json", `invalid value: ${why}`);
    }
  }
  validateCeOverrides(spec.ceOverrides, "spec.ceOverrides", sink);
}

function jsonObjectError(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  return parsed === null || isObject(parsed)
    ? undefined
    : "with contentType application/json the data must be a JSON object";
}

function validateCeOverrides(value: unknown, path: string, sink: ProblemSink): void {
  if (value === undefined || value === null) return;
  if (!isObject(value)) {
    sink.error(path, "schema", "must be an object");
    return;
  }
  const extensions = value.extensions;
  if (extensions === undefined || extensions === null) return;
  if (!isObject(extensions)) {
    sink.error(join(path, "extensions"), "schema", "must be a map");
    return;
  }
  for (const [key, v] of Object.entries(extensions)) {
    const at = `${join(path, "extensions")}[${key}]`;
    const problem = ceOverrideNameProblem(key);
    if (problem) sink.error(at, problem.rule, problem.message);
    else if (key !== ceOverrideAttributeName(key)) {
      sink.warn(at, "extension-name", `sent as ${ceOverrideAttributeName(key)}: the CloudEvents SDK lowercases names`);
    }
    if (typeof v !== "string") sink.error(at, "schema", "extension values must be strings");
  }
}

export function validateSinkBinding(object: Json, sink: ProblemSink): void {
  const meta = isObject(object.metadata) ? object.metadata : {};
  const namespace = str(meta.namespace);
  const spec = isObject(object.spec) ? object.spec : undefined;
  if (spec === undefined) {
    sink.error("spec", "required", "missing field(s): spec");
    return;
  }
  const subject = spec.subject;
  if (!isObject(subject)) sink.error("spec.subject", "sinkbinding-subject", "missing field(s): subject");
  else {
    if (!str(subject.apiVersion))
      sink.error("spec.subject.apiVersion", "sinkbinding-subject", "missing field(s): apiVersion");
    if (!str(subject.kind)) sink.error("spec.subject.kind", "sinkbinding-subject", "missing field(s): kind");
    const hasName = str(subject.name) !== undefined && subject.name !== "";
    const hasSelector = subject.selector !== undefined && subject.selector !== null;
    if (hasName && hasSelector)
      sink.error("spec.subject", "sinkbinding-subject", "expected exactly one, got both: name, selector");
    if (!hasName && !hasSelector)
      sink.error("spec.subject", "sinkbinding-subject", "expected exactly one, got neither: name, selector");
    const ns = str(subject.namespace);
    if (ns && namespace && ns !== namespace)
      sink.error(
        "spec.subject.namespace",
        "sinkbinding-subject",
        `invalid value: ${ns}: must be the SinkBinding's namespace`,
      );
  }
  if (spec.sink === undefined) sink.error("spec.sink", "destination", "expected at least one, got none: ref, uri");
  else validateDestination(spec.sink, "spec.sink", sink, namespace);
  validateCeOverrides(spec.ceOverrides, "spec.ceOverrides", sink);
}
