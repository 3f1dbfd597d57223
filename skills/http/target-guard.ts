import { isIP } from "node:net";
import { ToolFailure } from "../runtime/tool-error.ts";
import { blockedAddressReason } from "./address-policy.ts";
import { type AllowList, isAllowed } from "./allow-list.ts";

/**
 * The checks made on every hop before a connection is opened: scheme, credentials in the URL, the deployer's
 * allow-list, names that only mean something inside a cluster or host, and IP literals in blocked ranges. Names are
 * checked again after DNS, on the address actually connected to (see guarded-connect.ts).
 */
export interface Target {
  url: URL;
  scheme: "http:" | "https:";
  /** Hostname without IPv6 brackets or a trailing dot. */
  host: string;
  port: number;
  /** Set when the URL names an address rather than a host name. */
  literal?: string;
}

/**
 * Exceptions to the address policy for tests that need a loopback server. Passed in code by a test, never read from
 * config or environment: a deployed skill has no way to turn it on.
 */
export type UnsafeTestAllowance = ReadonlyArray<{ address: string; port: number }>;

/** Names that resolve inside the cluster or the host, or to cloud metadata, whatever DNS says today. */
const INTERNAL_SUFFIXES = [".localhost", ".local", ".internal", ".svc", ".cluster.local", ".home.arpa", ".arpa"];

export function denied(message: string, details?: Record<string, unknown>): ToolFailure {
  return new ToolFailure("PermissionDenied", message, details ? { details } : {});
}

export function checkTarget(raw: string | URL, allowList: AllowList, allowance: UnsafeTestAllowance = []): Target {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ToolFailure("ValidationFailed", "not an absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw denied(`scheme ${url.protocol} is not allowed`);
  if (url.username !== "" || url.password !== "") throw denied("credentials in URLs are not allowed");
  const scheme = url.protocol;
  const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
  const port = url.port === "" ? (scheme === "https:" ? 443 : 80) : Number(url.port);
  if (!isAllowed(allowList, url.hostname, port, scheme)) {
    throw denied(`${host}:${port} is not on this skill's allow-list`, { host, port });
  }
  const target: Target = { url, scheme, host, port };
  // WHATWG URL parsing already turned decimal, octal, hex and short IPv4 forms into dotted quads.
  if (isIP(host) !== 0) {
    target.literal = host;
    assertAddressAllowed(host, port, allowance);
    return target;
  }
  if (!host.includes(".") || host === "localhost" || INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    throw denied(`${host} is an internal name`, { host });
  }
  return target;
}

export function assertAddressAllowed(address: string, port: number, allowance: UnsafeTestAllowance): void {
  const reason = blockedAddressReason(address);
  if (reason === undefined) return;
  if (allowance.some((allowed) => allowed.address === address && allowed.port === port)) return;
  throw denied(`refusing to connect to a ${reason} address`, { reason });
}
