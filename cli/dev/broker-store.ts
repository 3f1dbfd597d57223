import type { JournalStore } from "../../eventing/broker/journal/journal.ts";
import { openRedisJournal } from "../../eventing/broker/journal/redis.ts";
import { openSqliteJournal } from "../../eventing/broker/journal/sqlite.ts";
import type { Log } from "../../eventing/broker/log.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { memoryEnv } from "../../functions/memory/env.ts";
import { environmentValue } from "./secrets.ts";

/**
 * Where the dev brokers keep accepted deliveries (cli/dev/README.md, "Durability"): in memory only (lost with the
 * process), in a SQLite file in the state directory, or in Redis Streams.
 */
export type BrokerStoreChoice =
  | { kind: "memory" }
  | { kind: "sqlite"; path: string; fullSync?: boolean }
  | { kind: "redis"; url: string; keyPrefix?: string; consumer?: string; claimIdleMs?: number };

export async function openBrokerStore(choice: BrokerStoreChoice, log: Log): Promise<JournalStore | undefined> {
  switch (choice.kind) {
    case "memory":
      return undefined;
    case "sqlite":
      return openSqliteJournal({ path: choice.path, fullSync: choice.fullSync, log });
    case "redis":
      return openRedisJournal({
        url: choice.url,
        keyPrefix: choice.keyPrefix,
        consumer: choice.consumer,
        claimIdleMs: choice.claimIdleMs,
        log,
      });
  }
}

/** How the listing names the store: never the Redis URL, which may carry a password. */
export function describeBrokerStore(choice: BrokerStoreChoice): string {
  switch (choice.kind) {
    case "memory":
      return "in memory (not durable: a crash loses accepted events)";
    case "sqlite":
      return `durable, SQLite ${choice.path}${choice.fullSync ? " (fsync per commit)" : ""}`;
    case "redis":
      return "durable, Redis Streams";
  }
}

interface ContainerEnv {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

/**
 * The Redis URL the config gives the memory service (`memory.redis.url`: the ksvc says `KNCLAW_MEMORY_BACKEND=redis`
 * and takes `KNCLAW_REDIS_URL` from a Secret), read from the environment as `knclaw dev` reads every Secret value;
 * undefined when the config names no Redis or the value is not set.
 */
export function configuredRedisUrl(
  objects: readonly KnativeObject[],
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const vars = redisMemoryEnv(objects);
  const url = vars?.find((v) => v.name === memoryEnv.names.redisUrl);
  if (url?.value) return url.value;
  const ref = url?.valueFrom?.secretKeyRef;
  return ref ? environmentValue(env, { secret: ref.name, key: ref.key, envName: url!.name }) : undefined;
}

/** The key prefix the config gives the memory service on Redis (`memory.redis.keyPrefix`), if it is on Redis. */
export function configuredRedisKeyPrefix(objects: readonly KnativeObject[]): string | undefined {
  return redisMemoryEnv(objects)?.find((v) => v.name === memoryEnv.names.keyPrefix)?.value;
}

/** The env of the memory service's container when the config puts it on Redis. */
function redisMemoryEnv(objects: readonly KnativeObject[]): ContainerEnv[] | undefined {
  for (const object of objects) {
    if (object.kind !== "Service") continue;
    const spec = object.spec as { template?: { spec?: { containers?: Array<{ env?: ContainerEnv[] }> } } } | undefined;
    for (const container of spec?.template?.spec?.containers ?? []) {
      const vars = container.env ?? [];
      if (vars.find((v) => v.name === memoryEnv.names.backend)?.value === "redis") return vars;
    }
  }
  return undefined;
}
