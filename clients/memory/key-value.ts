import { createHash } from "node:crypto";
import type { MemoryClient } from "./client.ts";

/**
 * The shared state a channel adapter needs, kept outside the adapter so that any replica can answer any request
 * (the adapter itself is stateless and scales to zero). In a deployment it is the memory service, reached with a
 * least-privilege `channel` token; the adapter toolkit only sees this interface.
 */
export interface KeyValueState {
  /** Store `value` under `key` for `ttlSeconds` unless the key exists; true when this call stored it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Memory-service keys are printable ASCII without spaces; anything else (or anything long) is hashed. */
function safeKey(key: string): string {
  return /^[\x21-\x7e]{1,400}$/.test(key) ? key : `h:${createHash("sha256").update(key).digest("hex")}`;
}

export class MemoryKeyValue implements KeyValueState {
  private readonly client: MemoryClient;
  private readonly space: { namespace: string };
  constructor(client: MemoryClient, namespace: string) {
    this.client = client;
    this.space = { namespace };
  }
  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const answer = await this.client.dedup(this.space, { key: safeKey(key), ttlMs: ttlSeconds * 1000, value });
    return answer.firstSeen;
  }
  async get(key: string): Promise<string | undefined> {
    const answer = await this.client.getValue(this.space, safeKey(key));
    return answer === undefined ? undefined : (answer.value ?? "");
  }
  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.putValue(this.space, safeKey(key), value, ttlSeconds * 1000);
  }
  async delete(key: string): Promise<void> {
    await this.client.deleteValue(this.space, safeKey(key));
  }
}
