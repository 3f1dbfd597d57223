/**
 * The Redis delivery journal across a restart of Redis under a running process (eventing/broker/journal/redis.ts):
 * on the reconnection it re-reads its own pending entries at once, instead of leaving them to the take-over of idle
 * entries (here set to an hour, so only the recovery can bring anything back). A redis-server of the test's own, with
 * an append-only file fsynced on every write, killed with -9 and started again on the same port and data.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JournalStore, NewDelivery, StoredDelivery } from "../../../eventing/broker/journal/journal.ts";
import { openRedisJournal } from "../../../eventing/broker/journal/redis.ts";
import { type OwnRedis, ownRedis } from "../../support/redis-server.ts";

let redis: OwnRedis;
let store: JournalStore;

beforeAll(async () => {
  redis = await ownRedis(["--appendonly", "yes", "--appendfsync", "always"]);
  store = await openRedisJournal({ url: redis.url, consumer: "reconnect-test", claimIdleMs: 3_600_000 });
});
afterAll(async () => {
  await store?.close();
  await redis?.stop();
});

function delivery(id: string): NewDelivery {
  return {
    trigger: "t1",
    event: { attributes: { id, source: "/test", type: "dev.knclaw.test", specversion: "1.0" } },
    ttl: 254,
    headers: {},
  };
}

/** The journal's hand-outs, and a wait for the n-th hand-out of an event id. */
class Handed {
  readonly all: StoredDelivery[] = [];
  private readonly waiters: Array<{ id: string; count: number; resolve: (d: StoredDelivery) => void }> = [];
  readonly dispatch = (d: StoredDelivery) => {
    this.all.push(d);
    for (const waiter of [...this.waiters]) {
      if (this.of(waiter.id).length >= waiter.count) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(d);
      }
    }
  };
  of(id: string): StoredDelivery[] {
    return this.all.filter((d) => d.event.attributes.id === id);
  }
  nth(id: string, count: number): Promise<StoredDelivery> {
    const found = this.of(id);
    if (found.length >= count) return Promise.resolve(found[count - 1]!);
    return new Promise((resolve) => this.waiters.push({ id, count, resolve }));
  }
}

describe("the redis delivery journal when Redis restarts", () => {
  it("hands out again at once what stopped during the outage, and removes what finished", async () => {
    const handed = new Handed();
    const journal = store.forBroker("test", "reconnect");
    await journal.start(handed.dispatch, () => 1000);
    await journal.append([delivery("done-before"), delivery("done-during"), delivery("stopped")]);
    const [before, during, stopped] = await Promise.all([
      handed.nth("done-before", 1),
      handed.nth("done-during", 1),
      handed.nth("stopped", 1),
    ]);
    await journal.remove(before.id);

    await redis.kill9();
    // While Redis is away: one delivery finishes (its removal fails), another cannot store its retry state, which
    // stops it in the broker (eventing/broker/broker.ts: "the delivery stays stored").
    await expect(journal.remove(during.id)).rejects.toThrow();
    await expect(journal.progress(stopped.id, { attempts: 1, dueAt: Date.now() })).rejects.toThrow();

    await redis.start();
    const again = await handed.nth("stopped", 2);
    expect(again.id).toBe(stopped.id);
    // The finished one is not made again, and is gone from the stream; the stopped one is pending, at this consumer.
    const admin = new Redis(redis.url);
    try {
      const stream = "knclaw:broker:test/reconnect:deliveries";
      const pending = (await admin.xpending(stream, "dispatch", "-", "+", 10)) as Array<[string, string]>;
      expect(pending.map(([id, consumer]) => [id, consumer])).toEqual([[stopped.id, "reconnect-test"]]);
      expect(handed.of("done-during")).toHaveLength(1);
      expect(handed.of("done-before")).toHaveLength(1);
      expect(await admin.xlen(stream)).toBe(1);
    } finally {
      admin.disconnect();
    }
    await journal.remove(again.id);
    await journal.stop();
  });
});
