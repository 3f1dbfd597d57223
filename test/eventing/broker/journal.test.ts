/**
 * The delivery journal's contract, on both stores: deliveries are handed out once stored, survive a reopen with their
 * retry state until removed, and come back in the order they were accepted. Plus what each store adds: SQLite's lock
 * against a second process, Redis's take-over of a dead consumer's entries.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { JournalStore, NewDelivery, StoredDelivery } from "../../../eventing/broker/journal/journal.ts";
import { openRedisJournal } from "../../../eventing/broker/journal/redis.ts";
import { openSqliteJournal } from "../../../eventing/broker/journal/sqlite.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

function delivery(id: string, data?: string): NewDelivery {
  const attributes = { id, source: "/test", type: "dev.knclaw.test", specversion: "1.0" };
  return {
    trigger: "t1",
    event: data === undefined ? { attributes } : { attributes, data: new TextEncoder().encode(data) },
    ttl: 254,
    headers: { "x-request-id": `r-${id}` },
  };
}

/** Starts a broker's journal and collects what it hands out. */
async function collect(
  store: JournalStore,
): Promise<{ got: StoredDelivery[]; journal: ReturnType<JournalStore["forBroker"]> }> {
  const journal = store.forBroker("test", "default");
  const got: StoredDelivery[] = [];
  await journal.start(
    (d) => got.push(d),
    () => 1000,
  );
  return { got, journal };
}

const dirs: string[] = [];
const prefixes: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
});

const stores: Array<[string, () => () => Promise<JournalStore>]> = [
  [
    "sqlite",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "knclaw-journal-"));
      dirs.push(dir);
      return async () => openSqliteJournal({ path: join(dir, "broker.sqlite") });
    },
  ],
  [
    "redis",
    () => {
      const prefix = `knclaw-journal-test:${randomUUID()}:`;
      prefixes.push(prefix);
      return () => openRedisJournal({ url: REDIS_URL, keyPrefix: prefix, consumer: "one" });
    },
  ],
];

for (const [name, fresh] of stores) {
  describe(`the ${name} delivery journal`, () => {
    it("hands out what it stored, keeps what is not removed across a reopen (with its retry state), in order", async () => {
      const open = fresh();
      const first = await open();
      const { got, journal } = await collect(first);
      await journal.append([delivery("a", '{"n":1}'), delivery("b")]);
      await journal.append([delivery("c", "")]);
      await waitFor(() => got.length === 3);
      expect(got.map((d) => d.event.attributes.id)).toEqual(["a", "b", "c"]);
      expect(got.every((d) => d.local)).toBe(true);
      const [a, b, c] = got as [StoredDelivery, StoredDelivery, StoredDelivery];
      await journal.remove(b.id);
      await journal.progress(c.id, { attempts: 2, dueAt: 1234 });
      await journal.stop();
      await first.close();

      const second = await open();
      const again = await collect(second);
      await waitFor(() => again.got.length === 2);
      expect(again.got.map((d) => d.event.attributes.id)).toEqual(["a", "c"]);
      const [a2, c2] = again.got as [StoredDelivery, StoredDelivery];
      expect(a2).toMatchObject({ id: a.id, trigger: "t1", ttl: 254, headers: { "x-request-id": "r-a" } });
      expect(new TextDecoder().decode(a2.event.data)).toBe('{"n":1}');
      expect(a2.progress).toBeUndefined();
      expect(a2.local).toBeUndefined();
      // Empty data stays empty data, not absent data.
      expect(c2.event.data?.byteLength).toBe(0);
      expect(c2.progress).toEqual({ attempts: 2, dueAt: 1234 });
      await again.journal.remove(a2.id);
      await again.journal.remove(c2.id);
      await again.journal.stop();
      await second.close();

      const third = await open();
      const last = await collect(third);
      await last.journal.append([delivery("d")]);
      await waitFor(() => last.got.length === 1);
      expect(last.got.map((d) => d.event.attributes.id)).toEqual(["d"]);
      await last.journal.stop();
      await third.close();
    });
  });
}

describe("the sqlite delivery journal", () => {
  it("is locked while open: a second process on the same state directory is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-journal-"));
    dirs.push(dir);
    const path = join(dir, "broker.sqlite");
    const first = openSqliteJournal({ path });
    expect(() => openSqliteJournal({ path })).toThrow(/in use by another process/);
    await first.close();
    await openSqliteJournal({ path }).close();
  });
});

describe("the redis delivery journal", () => {
  it("takes over the pending entries of a consumer that died, with their retry state", async () => {
    const prefix = `knclaw-journal-test:${randomUUID()}:`;
    prefixes.push(prefix);
    const dead = await openRedisJournal({ url: REDIS_URL, keyPrefix: prefix, consumer: "dead" });
    const before = await collect(dead);
    await before.journal.append([delivery("x"), delivery("y")]);
    await waitFor(() => before.got.length === 2);
    await before.journal.progress(before.got[1]!.id, { attempts: 1, dueAt: 99 });
    // The process goes away without finishing either: its entries stay pending under its name.
    await dead.close();

    const heir = await openRedisJournal({ url: REDIS_URL, keyPrefix: prefix, consumer: "heir", claimIdleMs: 0 });
    const after = await collect(heir);
    await waitFor(() => after.got.length === 2);
    expect(after.got.map((d) => d.event.attributes.id)).toEqual(["x", "y"]);
    expect(after.got[1]!.progress).toEqual({ attempts: 1, dueAt: 99 });
    for (const d of after.got) await after.journal.remove(d.id);
    await heir.close();
    const redis = new Redis(REDIS_URL);
    expect(await redis.xlen(`${prefix}test/default:deliveries`)).toBe(0);
    expect(await redis.hlen(`${prefix}test/default:retry`)).toBe(0);
    redis.disconnect();
  });
});

/** Resolves once `done()` holds, checking after each turn of the event loop that lets I/O in. */
async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setImmediate(resolve));
}
