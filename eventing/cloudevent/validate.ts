import { badRequest } from "./errors.ts";
import type { CloudEvent } from "./event.ts";

/**
 * Knative's strict CloudEvent validation (docs/knative-semantics.md, "Ingress"), applied before any SDK sees the event.
 * Nothing is filled in for the sender: no generated id, no added time, no specversion upgrade.
 */
export const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
// Parameters are ASCII (RFC 2045); anything else could not travel in a binary-mode Content-Type header.
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[\x20-\x7e\t]*)?$/;

/**
 * What a CloudEvents String must not contain (spec.md, "Type System"): the control characters U+0000-U+001F and
 * U+007F-U+009F (Cc), the noncharacters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF) and surrogates not in a pair (a `u`
 * regex sees a proper pair as one code point, so Cs matches only lone ones). Every attribute's canonical form is a String, so this holds for all of them, extensions included:
 * a newline that got in through a percent-encoded header would otherwise travel on to every subscriber.
 */
const FORBIDDEN_IN_STRING = /[\p{Cc}\p{Noncharacter_Code_Point}\p{Cs}]/u;

export function validateEvent(event: CloudEvent): CloudEvent {
  const a = event.attributes;
  for (const name of Object.keys(a)) {
    if (!ATTRIBUTE_NAME.test(name)) throw badRequest(`attribute name "${printable(name)}" must match [a-z0-9]+`);
    const value = a[name]!;
    if (FORBIDDEN_IN_STRING.test(value)) {
      throw badRequest(`attribute ${name}: control characters, noncharacters and lone surrogates are not allowed`);
    }
  }
  const specversion = a.specversion;
  if (specversion === undefined || specversion === "") throw badRequest("specversion: required");
  if (specversion !== "1.0" && specversion !== "0.3") {
    throw badRequest(`specversion: "${printable(specversion)}" is not supported (1.0 or 0.3)`);
  }
  for (const name of ["id", "source", "type"] as const) {
    if (a[name] === undefined || a[name] === "") throw badRequest(`${name}: required and non-empty`);
  }
  if (!isUriReference(a.source!)) throw badRequest("source: must be a URI-reference");
  if (a.time !== undefined && !isRfc3339(a.time)) throw badRequest("time: must be an RFC 3339 timestamp");
  if (a.subject !== undefined && a.subject === "") throw badRequest("subject: must be non-empty when present");
  if (a.datacontenttype !== undefined && !MEDIA_TYPE.test(a.datacontenttype)) {
    throw badRequest("datacontenttype: must be a media type (RFC 2046)");
  }
  if (specversion === "1.0") {
    if (a.dataschema !== undefined && !isAbsoluteUri(a.dataschema)) {
      throw badRequest("dataschema: must be an absolute URI");
    }
  } else {
    if (a.schemaurl !== undefined && !isUriReference(a.schemaurl))
      throw badRequest("schemaurl: must be a URI-reference");
    if (a.dataschema !== undefined) throw badRequest("dataschema: not a 0.3 attribute (use schemaurl)");
  }
  return event;
}

function isUriReference(value: string): boolean {
  if (!URI_CHARS.test(value)) return false;
  const schemeEnd = value.search(/[:/?#]/);
  if (schemeEnd >= 0 && value[schemeEnd] === ":") return SCHEME.test(value.slice(0, schemeEnd));
  return true;
}

function isAbsoluteUri(value: string): boolean {
  if (!isUriReference(value)) return false;
  const colon = value.indexOf(":");
  return colon > 0 && SCHEME.test(value.slice(0, colon)) && !value.slice(0, colon).includes("/");
}

function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [, y, mo, d, h, mi, s, , oh, om] = m;
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    Number(h) <= 23 &&
    Number(mi) <= 59 &&
    Number(s) <= 60 &&
    (oh === undefined || (Number(oh) <= 23 && Number(om) <= 59))
  );
}

/** Values echoed in error messages are cut and stripped of control characters so errors stay one clean line. */
export function printable(value: string): string {
  const cleaned = value.replace(/[^\x20-\x7e]/g, "?");
  return cleaned.length > 64 ? `${cleaned.slice(0, 64)}...` : cleaned;
}
