import { describe, expect, it } from "vitest";
import type { MemoryClient } from "../../../clients/memory/client.ts";
import {
  DeadLetterResponse,
  DeadLetterSummaryResponse,
  ListDeadLettersResponse,
  type StoreDeadLetterRequest,
  StoreDeadLetterResponse,
} from "../../../clients/memory/contract/dead-letters.ts";
import { ErrorBody } from "../../../clients/memory/contract/errors.ts";
import type { MemoryScope } from "../../../clients/memory/tokens.ts";
import { freshInstance, instanceScope, OPERATOR, TEST_LIMITS } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

const DEADLETTER: MemoryScope = { kind: "deadletter" };
const HOUR = 3_600_000;

/** A dead letter as the deadletter function stores it: the event's attributes, its data, Knative's error. */
function deadLetter(
  id: string,
  overrides: { extra?: Record<string, string>; data?: Uint8Array | null; destination?: string | null } = {},
  retention: { maxEntries?: number; maxAgeMs?: number } = {},
): StoreDeadLetterRequest {
  const destination = overrides.destination === undefined ? "http://agent.knclaw.svc/" : overrides.destination;
  const data = overrides.data === undefined ? new TextEncoder().encode(`{"n":"${id}"}`) : overrides.data;
  return {
    attributes: {
      specversion: "1.0",
      id,
      source: "/knclaw/test",
      type: "dev.knclaw.message.received",
      datacontenttype: "application/json",
      ...(destination === null ? {} : { knativeerrordest: destination, knativeerrorcode: "400" }),
      ...overrides.extra,
    },
    ...(data === null ? {} : { dataBase64: Buffer.from(data).toString("base64") }),
    error: { destination, code: destination === null ? null : 400, data: "YmFk", text: "bad" },
    maxEntries: retention.maxEntries ?? 1000,
    maxAgeMs: retention.maxAgeMs ?? 24 * HOUR,
  };
}

describe.each(TARGETS)("dead letters on $name", (target) => {
  const suite = useTarget(target);
  const fresh = () => {
    const { h, clock } = suite();
    return { h, clock, queue: freshInstance(), client: h.client(DEADLETTER) };
  };

  it("keeps a dead letter's attributes and data bytes exactly, and answers it by id", async () => {
    const { client, queue, clock } = fresh();
    const bytes = Uint8Array.from([0, 255, 254, 10, 13, 0x80, 0x7f]);
    const request = deadLetter("e1", { data: bytes, extra: { knclawinstance: "assistant", traceparent: "00-ab" } });
    const before = clock.now();
    const stored = StoreDeadLetterResponse.parse(await client.storeDeadLetter(queue, request));
    expect(stored.created).toBe(true);
    expect(stored.deadLetter).toMatchObject({
      queue,
      attributes: request.attributes,
      dataBytes: bytes.byteLength,
      error: request.error,
      receivedCount: 1,
      replayedAt: null,
      replayCount: 0,
    });
    expect(stored.deadLetter.id).toMatch(/^dl_[A-Za-z0-9_-]{32}$/);
    expect(stored.deadLetter.receivedAt).toBeGreaterThanOrEqual(before);
    expect(stored.deadLetter.lastReceivedAt).toBe(stored.deadLetter.receivedAt);
    expect(stored.deadLetter.expiresAt).toBe(stored.deadLetter.receivedAt + 24 * HOUR);
    expect("dataBase64" in stored.deadLetter).toBe(false);
    const full = await client.getDeadLetter(queue, stored.deadLetter.id);
    DeadLetterResponse.parse({ deadLetter: full });
    expect(Buffer.from(full!.dataBase64!, "base64")).toEqual(Buffer.from(bytes));
    expect(full!.attributes).toEqual(request.attributes);
    expect(await client.getDeadLetter(queue, "dl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).toBeUndefined();
    // Queues are separate key spaces.
    expect(await client.getDeadLetter(freshInstance(), stored.deadLetter.id)).toBeUndefined();
  });

  it("tells an event without data from one with empty data", async () => {
    const { client, queue } = fresh();
    const none = await client.storeDeadLetter(queue, deadLetter("no-data", { data: null }));
    const empty = await client.storeDeadLetter(queue, deadLetter("empty-data", { data: new Uint8Array(0) }));
    expect(none.deadLetter.dataBytes).toBeNull();
    expect(empty.deadLetter.dataBytes).toBe(0);
    expect((await client.getDeadLetter(queue, none.deadLetter.id))!.dataBase64).toBeNull();
    expect((await client.getDeadLetter(queue, empty.deadLetter.id))!.dataBase64).toBe("");
  });

  it("stores a redelivered dead letter once, counting arrivals, and a retried request only once", async () => {
    const { h, client, queue, clock } = fresh();
    const first = await client.storeDeadLetter(queue, deadLetter("dup"));
    clock.advance(5);
    const again = await client.storeDeadLetter(queue, {
      ...deadLetter("dup"),
      error: { destination: "http://agent.knclaw.svc/", code: 500, data: null, text: null },
    });
    expect(again.created).toBe(false);
    expect(again.deadLetter).toMatchObject({
      id: first.deadLetter.id,
      receivedAt: first.deadLetter.receivedAt,
      receivedCount: 2,
      error: { code: 500, data: null, text: null },
    });
    expect(again.deadLetter.lastReceivedAt).toBeGreaterThanOrEqual(first.deadLetter.receivedAt + 5);
    // The same request id (a client retry after a lost answer) is not a second arrival.
    const raw = (requestId: string) =>
      h.raw(`/v1/deadletters/${queue}`, {
        method: "POST",
        scope: DEADLETTER,
        json: { ...deadLetter("dup"), requestId },
      });
    const count = async (response: Promise<Response>) =>
      StoreDeadLetterResponse.parse(await (await response).json()).deadLetter.receivedCount;
    expect(await count(raw("retry-1"))).toBe(3);
    expect(await count(raw("retry-1"))).toBe(3);
    // Another failed destination or another event is another dead letter.
    const elsewhere = await client.storeDeadLetter(queue, deadLetter("dup", { destination: "http://other.svc/" }));
    const noDestination = await client.storeDeadLetter(queue, deadLetter("dup", { destination: null }));
    const otherEvent = await client.storeDeadLetter(queue, deadLetter("dup2"));
    const ids = new Set([first, elsewhere, noDestination, otherEvent].map((s) => s.deadLetter.id));
    expect(ids.size).toBe(4);
    expect([elsewhere, noDestination, otherEvent].every((s) => s.created)).toBe(true);
    expect((await client.listDeadLetters(queue)).deadLetters).toHaveLength(4);
  });

  it("lists newest first with cursor pagination and filters by instance, type and destination", async () => {
    const { client, queue, clock } = fresh();
    const stored: string[] = [];
    for (let i = 0; i < 7; i++) {
      clock.advance(1);
      const request = deadLetter(`list-${i}`, {
        extra: { knclawinstance: i % 2 === 0 ? "even" : "odd", type: i < 3 ? "dev.knclaw.a" : "dev.knclaw.b" },
        destination: i === 6 ? "http://special.svc/" : "http://agent.knclaw.svc/",
      });
      stored.push((await client.storeDeadLetter(queue, request)).deadLetter.id);
    }
    const newestFirst = [...stored].reverse();
    const all = ListDeadLettersResponse.parse(await client.listDeadLetters(queue));
    expect(all.deadLetters.map((d) => d.id)).toEqual(newestFirst);
    expect(all.nextCursor).toBeNull();
    const paged: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; ; pages++) {
      const page = await client.listDeadLetters(queue, { limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.deadLetters.length).toBeLessThanOrEqual(3);
      paged.push(...page.deadLetters.map((d) => d.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
      expect(pages).toBeLessThan(5);
    }
    expect(paged).toEqual(newestFirst);
    const ids = async (query: Parameters<MemoryClient["listDeadLetters"]>[1]) =>
      (await client.listDeadLetters(queue, query)).deadLetters.map((d) => d.id);
    expect(await ids({ instance: "even" })).toEqual([stored[6], stored[4], stored[2], stored[0]]);
    expect(await ids({ type: "dev.knclaw.a" })).toEqual([stored[2], stored[1], stored[0]]);
    expect(await ids({ type: "dev.knclaw.b", instance: "odd" })).toEqual([stored[5], stored[3]]);
    expect(await ids({ destination: "http://special.svc/" })).toEqual([stored[6]]);
    expect(await ids({ instance: "nobody" })).toEqual([]);
    const filteredPage = await client.listDeadLetters(queue, { instance: "even", limit: 2 });
    expect(filteredPage.deadLetters.map((d) => d.id)).toEqual([stored[6], stored[4]]);
    const rest = await client.listDeadLetters(queue, { instance: "even", limit: 2, cursor: filteredPage.nextCursor! });
    expect(rest.deadLetters.map((d) => d.id)).toEqual([stored[2], stored[0]]);
    expect(rest.nextCursor).toBeNull();
  });

  it("drops the oldest entries beyond the cap", async () => {
    const { client, queue, clock } = fresh();
    const stored: string[] = [];
    for (let i = 0; i < 6; i++) {
      clock.advance(1);
      stored.push((await client.storeDeadLetter(queue, deadLetter(`cap-${i}`, {}, { maxEntries: 4 }))).deadLetter.id);
    }
    expect((await client.listDeadLetters(queue)).deadLetters.map((d) => d.id)).toEqual(stored.slice(2).reverse());
    expect(await client.getDeadLetter(queue, stored[0]!)).toBeUndefined();
    expect(await client.getDeadLetter(queue, stored[1]!)).toBeUndefined();
    // A lower cap applies to what is already there.
    clock.advance(1);
    await client.storeDeadLetter(queue, deadLetter("cap-last", {}, { maxEntries: 2 }));
    const left = (await client.listDeadLetters(queue)).deadLetters.map((d) => d.attributes.id);
    expect(left).toEqual(["cap-last", "cap-5"]);
  });

  it("forgets entries past the age limit, and a dead letter arriving again starts afresh", async () => {
    const { client, queue, clock } = fresh();
    const old = await client.storeDeadLetter(queue, deadLetter("old", {}, { maxAgeMs: 10_000 }));
    clock.advance(6_000);
    const young = await client.storeDeadLetter(queue, deadLetter("young", {}, { maxAgeMs: 10_000 }));
    clock.advance(5_000);
    expect(await client.getDeadLetter(queue, old.deadLetter.id)).toBeUndefined();
    expect(await client.getDeadLetter(queue, young.deadLetter.id)).toBeDefined();
    expect((await client.listDeadLetters(queue)).deadLetters.map((d) => d.attributes.id)).toEqual(["young"]);
    expect(await client.recordDeadLetterReplay(queue, old.deadLetter.id)).toBeUndefined();
    expect(await client.deleteDeadLetter(queue, old.deadLetter.id)).toBe(false);
    const back = await client.storeDeadLetter(queue, deadLetter("old", {}, { maxAgeMs: 10_000 }));
    expect(back).toMatchObject({ created: true, deadLetter: { id: old.deadLetter.id, receivedCount: 1 } });
    // Arriving again pushes the expiry out from the latest arrival.
    clock.advance(4_000);
    const renewed = await client.storeDeadLetter(queue, deadLetter("young", {}, { maxAgeMs: 10_000 }));
    expect(renewed.deadLetter.receivedCount).toBe(2);
    clock.advance(7_000);
    expect(await client.getDeadLetter(queue, young.deadLetter.id)).toBeDefined();
  });

  it("records replays, counting a retried record once", async () => {
    const { h, client, queue, clock } = fresh();
    const { deadLetter: entry } = await client.storeDeadLetter(queue, deadLetter("replayed"));
    clock.advance(3);
    const replayed = await client.recordDeadLetterReplay(queue, entry.id);
    expect(replayed).toMatchObject({ id: entry.id, replayCount: 1 });
    expect(replayed!.replayedAt).toBeGreaterThanOrEqual(entry.receivedAt + 3);
    const record = () =>
      h.raw(`/v1/deadletters/${queue}/${entry.id}/replayed`, {
        method: "POST",
        scope: DEADLETTER,
        json: { requestId: "same" },
      });
    const replays = async () => DeadLetterSummaryResponse.parse(await (await record()).json()).deadLetter.replayCount;
    expect(await replays()).toBe(2);
    expect(await replays()).toBe(2);
    expect((await client.getDeadLetter(queue, entry.id))!.replayCount).toBe(2);
    expect(await client.recordDeadLetterReplay(queue, "dl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).toBeUndefined();
  });

  it("deletes an entry", async () => {
    const { client, queue } = fresh();
    const { deadLetter: entry } = await client.storeDeadLetter(queue, deadLetter("deleted"));
    await client.storeDeadLetter(queue, deadLetter("kept"));
    expect(await client.deleteDeadLetter(queue, entry.id)).toBe(true);
    expect(await client.deleteDeadLetter(queue, entry.id)).toBe(false);
    expect(await client.getDeadLetter(queue, entry.id)).toBeUndefined();
    expect((await client.listDeadLetters(queue)).deadLetters.map((d) => d.attributes.id)).toEqual(["kept"]);
    expect((await client.listDeadLetters(queue, { type: "dev.knclaw.message.received" })).deadLetters).toHaveLength(1);
    const back = await client.storeDeadLetter(queue, deadLetter("deleted"));
    expect(back.created).toBe(true);
  });

  it("opens dead letters to deadletter and operator tokens only, and nothing else to a deadletter token", async () => {
    const { h, queue } = fresh();
    const instance = freshInstance();
    await h.client(OPERATOR).storeDeadLetter(queue, deadLetter("auth"));
    for (const scope of [
      instanceScope(instance),
      { kind: "gateway" },
      { kind: "channel" },
      { kind: "notes" },
    ] as const) {
      await expect(h.client(scope).listDeadLetters(queue)).rejects.toMatchObject({ status: 403, code: "forbidden" });
      await expect(h.client(scope).storeDeadLetter(queue, deadLetter("x"))).rejects.toMatchObject({ status: 403 });
    }
    const withOperatorToken = await h.raw(`/v1/deadletters/${queue}`, {
      headers: { authorization: `Bearer ${TEST_LIMITS.KNCLAW_MEMORY_OPERATOR_TOKEN}` },
    });
    expect(withOperatorToken.status).toBe(200);
    expect((await h.raw(`/v1/deadletters/${queue}`)).status).toBe(401);
    const dl = h.client(DEADLETTER);
    expect((await dl.listDeadLetters(queue)).deadLetters).toHaveLength(1);
    await expect(dl.listRuns(instance)).rejects.toMatchObject({ status: 403 });
    await expect(dl.readSession(instance, "main")).rejects.toMatchObject({ status: 403 });
    await expect(dl.dedup({ namespace: "slack" }, { key: "k", ttlMs: 1000 })).rejects.toMatchObject({ status: 403 });
    await expect(dl.readAudit(instance)).rejects.toMatchObject({ status: 403 });
  });

  it("refuses malformed requests with 400 and field paths, and oversized ones with 413", async () => {
    const { h, queue } = fresh();
    const post = (json: unknown, q = queue) =>
      h.raw(`/v1/deadletters/${q}`, { method: "POST", scope: DEADLETTER, json });
    const valid = deadLetter("bad-input");
    const cases: Array<[unknown, string]> = [
      [{ ...valid, attributes: { ...valid.attributes, id: "" } }, "attributes"],
      [{ ...valid, attributes: { ...valid.attributes, "Not-A-Name": "x" } }, "attributes"],
      [{ ...valid, dataBase64: "not base64!" }, "dataBase64"],
      [{ ...valid, dataBase64: "YWJj=" }, "dataBase64"],
      [{ ...valid, maxEntries: 0 }, "maxEntries"],
      [{ ...valid, maxAgeMs: -1 }, "maxAgeMs"],
      [{ ...valid, error: { ...valid.error, code: "400" } }, "error.code"],
      [{ ...valid, surprise: true }, ""],
    ];
    for (const [json, path] of cases) {
      const response = await post(json);
      expect(response.status).toBe(400);
      const error = ErrorBody.parse(await response.json()).error;
      expect(error.code).toBe("invalid_request");
      if (path) expect(error.issues?.map((i) => i.path).join(" ")).toContain(path);
    }
    expect((await post(valid, "Not_A_Queue")).status).toBe(400);
    const badJson = await h.raw(`/v1/deadletters/${queue}`, {
      method: "POST",
      scope: DEADLETTER,
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(badJson.status).toBe(400);
    expect((await h.raw(`/v1/deadletters/${queue}/not-an-id`, { scope: DEADLETTER })).status).toBe(400);
    expect((await h.raw(`/v1/deadletters/${queue}?cursor=bm9wZQ`, { scope: DEADLETTER })).status).toBe(400);
    expect((await h.raw(`/v1/deadletters/${queue}?limit=0`, { scope: DEADLETTER })).status).toBe(400);
    // Dead letters have their own body limit, above the general one (64 KiB in these tests): a 200 KiB event fits.
    const big = new Uint8Array(200 * 1024).fill(7);
    const accepted = await post(deadLetter("big", { data: big }));
    expect(accepted.status).toBe(201);
    expect(StoreDeadLetterResponse.parse(await accepted.json()).deadLetter.dataBytes).toBe(big.byteLength);
    const tooBig = await post(deadLetter("too-big", { data: new Uint8Array(2 * 1024 * 1024) }));
    expect(tooBig.status).toBe(413);
    expect(ErrorBody.parse(await tooBig.json()).error.code).toBe("payload_too_large");
  });

  it("stores 20 concurrent arrivals of one dead letter once, and keeps the cap under concurrent stores", async () => {
    const { h, queue } = fresh();
    const client = h.client(DEADLETTER, { retries: 0 });
    const same = await Promise.all(
      Array.from({ length: 20 }, () => client.storeDeadLetter(queue, deadLetter("racing"))),
    );
    expect(same.filter((s) => s.created)).toHaveLength(1);
    expect(new Set(same.map((s) => s.deadLetter.id)).size).toBe(1);
    expect((await client.getDeadLetter(queue, same[0]!.deadLetter.id))!.receivedCount).toBe(20);
    const capped = freshInstance();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => client.storeDeadLetter(capped, deadLetter(`c${i}`, {}, { maxEntries: 5 }))),
    );
    expect((await client.listDeadLetters(capped, { limit: 100 })).deadLetters).toHaveLength(5);
  });
});
