/** Response header fields as undici hands them over: names lowercased, a repeated field as an array of values. */
export type RawHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Read access to a response's header fields without building a WHATWG `Headers` per response (the broker decodes
 * every reply through this). Shaped like the codec's HeaderReader: names are case-insensitive and a repeated field
 * reads as its values joined by ", ", as `Headers.get` joins them. Own properties only: undici's header object has
 * Object.prototype, and a field named `constructor` must not read as a function.
 */
export class ResponseHeaders {
  readonly raw: RawHeaders;

  constructor(raw: RawHeaders) {
    this.raw = raw;
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    if (!Object.hasOwn(this.raw, key)) return null;
    const value = this.raw[key];
    if (value === undefined) return null;
    return typeof value === "string" ? value : value.join(", ");
  }

  has(name: string): boolean {
    const key = name.toLowerCase();
    return Object.hasOwn(this.raw, key) && this.raw[key] !== undefined;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name of Object.keys(this.raw)) {
      const value = this.raw[name];
      if (value !== undefined) callback(typeof value === "string" ? value : value.join(", "), name);
    }
  }
}
