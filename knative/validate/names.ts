/**
 * Kubernetes name and metadata syntax (k8s.io/apimachinery/pkg/util/validation), which the API server enforces and
 * the JSON schemas of kubernetes-models do not.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Undefined when valid, else the reason. */
export function checkDns1123Label(value: string): string | undefined {
  if (value.length > 63) return `must be no more than 63 characters (got ${value.length})`;
  if (!DNS1123_LABEL.test(value))
    return "must be a DNS-1123 label: lowercase letters, digits and '-', alphanumeric at both ends";
  return undefined;
}

export function checkDns1035Label(value: string): string | undefined {
  if (value.length > 63) return `must be no more than 63 characters (got ${value.length})`;
  if (!DNS1035_LABEL.test(value))
    return "must be a DNS-1035 label: start with a letter, then lowercase letters, digits and '-'";
  return undefined;
}

export function checkDns1123Subdomain(value: string): string | undefined {
  if (value.length > 253) return `must be no more than 253 characters (got ${value.length})`;
  if (!DNS1123_SUBDOMAIN.test(value)) return "must be a DNS-1123 subdomain: lowercase alphanumerics, '-' and '.'";
  return undefined;
}

/** Label and annotation keys: `[prefix/]name`, prefix a DNS subdomain, name a qualified name of at most 63 chars. */
export function checkQualifiedKey(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix === "") return "prefix part must be non-empty";
    const why = checkDns1123Subdomain(prefix);
    if (why) return `prefix part ${why}`;
  }
  if (name.length === 0 || name.length > 63) return "name part must be 1-63 characters";
  if (!QUALIFIED_NAME.test(name))
    return "name part must consist of alphanumerics, '-', '_' or '.', alphanumeric at both ends";
  return undefined;
}

export function checkLabelValue(value: string): string | undefined {
  if (value.length > 63) return `must be no more than 63 characters (got ${value.length})`;
  if (!LABEL_VALUE.test(value)) return "must be empty or alphanumerics, '-', '_' or '.', alphanumeric at both ends";
  return undefined;
}
