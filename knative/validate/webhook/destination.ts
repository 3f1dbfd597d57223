/**
 * Destinations and KReferences (knative.dev/pkg apis/duck/v1 destination.go, knative_reference.go): a ref, a uri,
 * or both with a relative uri; a uri alone must be absolute with a host; a ref needs apiVersion, kind and name.
 */
import { isObject, type Json, join, type ProblemSink, str } from "../problems.ts";

export function validateDestination(value: unknown, path: string, sink: ProblemSink, parentNamespace?: string): void {
  if (!isObject(value)) {
    sink.error(path, "destination", "expected at least one, got none: ref, uri");
    return;
  }
  const ref = value.ref;
  const uri = value.uri;
  if (ref === undefined && uri === undefined) {
    sink.error(path, "destination", "expected at least one, got none: ref, uri");
    return;
  }
  let url: URL | undefined;
  if (uri !== undefined) {
    if (typeof uri !== "string") {
      sink.error(join(path, "uri"), "destination", "uri must be a string");
      return;
    }
    url = parseAbsolute(uri);
  }
  if (ref !== undefined && url !== undefined) {
    sink.error(path, "destination", "Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present");
    return;
  }
  if (ref === undefined) {
    if (url === undefined || url.host === "") {
      sink.error(
        join(path, "uri"),
        "destination",
        "Relative URI is not allowed when Ref and [apiVersion, kind, name] is absent",
      );
    }
    return;
  }
  if (uri === undefined) validateKReference(ref, join(path, "ref"), sink, parentNamespace);
  else if (isObject(ref)) validateKReference(ref, join(path, "ref"), sink, parentNamespace);
}

export function validateKReference(ref: unknown, path: string, sink: ProblemSink, parentNamespace?: string): void {
  if (!isObject(ref)) {
    sink.error(path, "reference", "missing field(s): name, apiVersion, kind");
    return;
  }
  const r = ref as Json;
  if (!str(r.name)) sink.error(join(path, "name"), "reference", "missing field(s): name");
  if (r.group !== undefined) sink.error(join(path, "group"), "reference", "must not set the field(s): group");
  if (!str(r.apiVersion)) sink.error(join(path, "apiVersion"), "reference", "missing field(s): apiVersion");
  if (!str(r.kind)) sink.error(join(path, "kind"), "reference", "missing field(s): kind");
  const ns = str(r.namespace);
  if (ns && parentNamespace && ns !== parentNamespace) {
    sink.error(
      join(path, "namespace"),
      "reference",
      `mismatched namespaces: parent namespace ${JSON.stringify(parentNamespace)} does not match ref ${JSON.stringify(ns)}`,
    );
  }
}

function parseAbsolute(uri: string): URL | undefined {
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(uri)) return undefined;
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}
