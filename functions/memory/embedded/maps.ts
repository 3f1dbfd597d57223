/**
 * The embedded store keeps its data in plain maps. Every operation runs synchronously between two awaits, which is
 * what makes it atomic; expiry is checked on access (and swept periodically to free memory).
 */

export interface Expiring<T> {
  value: T;
  /** ms since epoch; Infinity when it never expires. */
  expiresAt: number;
}

/** The live value under `key`, dropping it if it expired. */
export function live<T>(map: Map<string, Expiring<T>>, key: string, now: number): Expiring<T> | undefined {
  const entry = map.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= now) {
    map.delete(key);
    return undefined;
  }
  return entry;
}

export function sweepExpired<T>(map: Map<string, Expiring<T>>, now: number): void {
  for (const [key, entry] of map) if (entry.expiresAt <= now) map.delete(key);
}

/** The state kept under `key` (an instance, a queue, a namespace), created empty on first use. */
export function stateOf<T>(map: Map<string, T>, key: string, create: () => T): T {
  let state = map.get(key);
  if (state === undefined) {
    state = create();
    map.set(key, state);
  }
  return state;
}
