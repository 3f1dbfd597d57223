/**
 * The hosts the deployer lets the http skill reach (config, never the model). Entries:
 * `example.com` (that host, default ports 80/443), `*.example.com` (any subdomain, not the apex),
 * `example.com:8443` (that host on that port only), `*` (any public host: the address policy still applies).
 */
interface AllowEntry {
  pattern: string;
  wildcard: boolean;
  port?: number;
}

export type AllowList = readonly AllowEntry[];

class AllowListError extends Error {
  override name = "AllowListError";
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseAllowList(entries: readonly string[]): AllowList {
  return entries.map((raw) => {
    const entry = raw.trim().toLowerCase();
    if (entry === "*") return { pattern: "*", wildcard: true };
    const match = /^(\*\.)?([^:]+)(?::(\d{1,5}))?$/.exec(entry);
    if (!match) throw new AllowListError(`allow-list entry ${JSON.stringify(raw)} is not host, *.domain or host:port`);
    const host = match[2]!.replace(/\.$/, "");
    if (!host.split(".").every((label) => LABEL.test(label))) {
      throw new AllowListError(`allow-list entry ${JSON.stringify(raw)} is not a DNS name`);
    }
    const allowed: AllowEntry = { pattern: host, wildcard: match[1] !== undefined };
    if (match[3] !== undefined) {
      const port = Number(match[3]);
      if (port < 1 || port > 65535) throw new AllowListError(`allow-list entry ${JSON.stringify(raw)} has a bad port`);
      allowed.port = port;
    }
    return allowed;
  });
}

/** Parse the comma- or whitespace-separated list a ksvc gets in its environment. */
export function allowListFromEnv(value: string | undefined): AllowList {
  return parseAllowList((value ?? "").split(/[\s,]+/).filter((entry) => entry !== ""));
}

/** `hostname` is a URL's normalized hostname (lowercase, IPv6 in brackets), `port` the effective port. */
export function isAllowed(list: AllowList, hostname: string, port: number, scheme: "http:" | "https:"): boolean {
  const host = hostname.replace(/\.$/, "");
  const defaultPort = scheme === "https:" ? 443 : 80;
  return list.some((entry) => {
    if (entry.port !== undefined ? entry.port !== port : port !== defaultPort) return false;
    if (entry.pattern === "*") return true;
    if (entry.wildcard) return host.endsWith(`.${entry.pattern}`);
    return host === entry.pattern;
  });
}
