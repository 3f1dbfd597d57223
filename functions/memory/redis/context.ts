import type { RedisClient } from "./connection.ts";
import type { KeySchema } from "./keys.ts";

/** What every Redis-backed operation needs: the client and the key schema. */
export interface RedisContext {
  client: RedisClient;
  keys: KeySchema;
}
