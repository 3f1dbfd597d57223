import type { IncomingHttpHeaders } from "node:http";
import type { HeaderReader } from "./http-codec.ts";

/**
 * A HeaderReader over Node's header object (names already lowercased by Node), so the broker's hot paths decode
 * events without building a WHATWG `Headers` per message. Repeated headers arrive joined by Node (", "), as
 * `Headers.get` would join them.
 */
export function nodeHeaderReader(headers: IncomingHttpHeaders): HeaderReader {
  const value = (name: string): string | null => {
    const raw = headers[name];
    if (raw === undefined) return null;
    return Array.isArray(raw) ? raw.join(", ") : raw;
  };
  return {
    get: (name) => value(name.toLowerCase()),
    has: (name) => headers[name.toLowerCase()] !== undefined,
    forEach(callback) {
      for (const name of Object.keys(headers)) {
        const v = value(name);
        if (v !== null) callback(v, name);
      }
    },
  };
}
