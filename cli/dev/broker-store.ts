import type { JournalStore } from "../../eventing/broker/journal/journal.ts";
import { openRedisJournal } from "../../eventing/broker/journal/redis.ts";
import { openSqliteJournal } from "../../eventing/broker/journal/sqlite.ts";
import type { Log } from "../../eventing/broker/log.ts";

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
      return openSqliteJournal({ path: choice.path, fullSync: choice.fullSync });
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
