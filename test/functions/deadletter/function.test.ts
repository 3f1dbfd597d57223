import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeadLetterResponse, ListDeadLettersResponse } from "../../../clients/memory/contract/dead-letters.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { decodeMessageIfAny, encodeBinary } from "../../../eventing/cloudevent/http-codec.ts";
import { verifyingTrust } from "../../../eventing/trust/event-trust.ts";
import { parseTrustBundle } from "../../../eventing/trust/trusted-producers.ts";
import { createApp } from "../../../functions/deadletter/app.ts";
import { EnvError } from "../../../runtime/env-contract.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { receivedAttributes } from "../../support/dev-platform.ts";
import { signAs, trustBundle } from "../../support/event-keys.ts";
import { SECRET } from "../memory/support/harness.ts";
import {
  API_TOKEN,
  type DeadLetterHarness,
  postDeadLetter,
  startDeadLetter,
  switchableStore,
} from "./support/harness.ts";

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

async function listed(h: DeadLetterHarness, query = "") {
  const response = await h.api(`/v1/deadletters${query}`);
  expect(response.status).toBe(200);
  return ListDeadLettersResponse.parse(await response.json());
}

async function shown(h: DeadLetterHarness, id: string) {
  const response = await h.api(`/v1/deadletters/${id}`);
  expect(response.status).toBe(200);
  return DeadLetterResponse.parse(await response.json()).deadLetter;
}

describe("deadletter function: receiving dead letters", () => {
  let h: DeadLetterHarness;
  beforeAll(async () => {
    h = await startDeadLetter({ env: { KNCLAW_DEADLETTER_MAX_BODY_BYTES: "8192" } });
  });
  afterAll(() => h.close());
  afterEach(async () => {
    for (const entry of (await listed(h, "?limit=200")).deadLetters)
      await h.api(`/v1/deadletters/${entry.id}`, { method: "DELETE" });
  });

  it("keeps every attribute and the data bytes exactly, decodes the error, and answers 202 with no body", async () => {
    const bytes = Uint8Array.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13]);
    const response = await postDeadLetter(h.url, {
      id: "binary-1",
      body: bytes,
      errorBody: "subscriber said: no thanks ✗",
      headers: {
        "ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "ce-subject": "a%20b%25c",
      },
    });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("");
    expect(response.headers.get("ce-id")).toBeNull();
    const [entry] = (await listed(h)).deadLetters;
    expect(entry).toMatchObject({
      attributes: {
        specversion: "1.0",
        id: "binary-1",
        source: "/knclaw/test",
        type: "dev.knclaw.message.received",
        knclawinstance: "assistant",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        subject: "a b%c",
        datacontenttype: "application/octet-stream",
        knativeerrordest: "http://agent-assistant.knclaw.svc.cluster.local",
        knativeerrorcode: "400",
      },
      dataBytes: bytes.byteLength,
      error: {
        destination: "http://agent-assistant.knclaw.svc.cluster.local",
        code: 400,
        data: Buffer.from("subscriber said: no thanks ✗").toString("base64"),
        text: "subscriber said: no thanks ✗",
      },
      receivedCount: 1,
    });
    const full = await shown(h, entry!.id);
    expect(Buffer.from(full.dataBase64!, "base64")).toEqual(Buffer.from(bytes));
  });

  it("accepts structured mode, and keeps an event without data as one without data", async () => {
    const structured = await fetch(h.url, {
      method: "POST",
      headers: { "content-type": "application/cloudevents+json; charset=utf-8" },
      body: JSON.stringify({
        specversion: "1.0",
        id: "structured-1",
        source: "/s",
        type: "t.structured",
        datacontenttype: "application/json",
        knativeerrordest: "http://x.svc/",
        knativeerrorcode: 500,
        data: { hello: "world" },
      }),
    });
    expect(structured.status).toBe(202);
    const noData = await postDeadLetter(h.url, { id: "no-data", body: "", headers: { "content-type": "" } });
    expect(noData.status).toBe(202);
    const entries = (await listed(h)).deadLetters;
    const s = entries.find((e) => e.attributes.id === "structured-1")!;
    expect(s.error).toMatchObject({ destination: "http://x.svc/", code: 500, data: null, text: null });
    expect(Buffer.from((await shown(h, s.id)).dataBase64!, "base64").toString()).toBe('{"hello":"world"}');
    const n = entries.find((e) => e.attributes.id === "no-data")!;
    expect(n.dataBytes).toBeNull();
    expect((await shown(h, n.id)).dataBase64).toBeNull();
  });

  it("stores a redelivered dead letter once; another failed destination is another entry", async () => {
    for (let i = 0; i < 3; i++) expect((await postDeadLetter(h.url, { id: "dup" })).status).toBe(202);
    const other = await postDeadLetter(h.url, {
      id: "dup",
      headers: { "ce-knativeerrordest": "http://gateway.knclaw.svc.cluster.local" },
    });
    expect(other.status).toBe(202);
    const entries = (await listed(h)).deadLetters;
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => e.receivedCount).sort()).toEqual([1, 3]);
  });

  it("refuses what is not a valid CloudEvent with 400 and stores nothing", async () => {
    const cases: Array<RequestInit> = [
      { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
      { method: "POST", headers: { "ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t" }, body: "x" },
      { method: "POST", headers: { "ce-specversion": "2.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t" } },
      {
        method: "POST",
        headers: { "ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-time": "yesterday" },
      },
      {
        method: "POST",
        headers: { "ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-x": "%ZZ" },
      },
      { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: "{not json" },
      {
        method: "POST",
        headers: { "content-type": "application/cloudevents+json" },
        body: JSON.stringify({ specversion: "1.0", id: "1", source: "/s", type: "t", data: 1, data_base64: "AA==" }),
      },
      { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: "[]" },
    ];
    for (const init of cases) {
      const response = await fetch(h.url, init);
      expect(response.status).toBe(400);
      expect(await errorCode(response)).toBe("invalid_event");
    }
    expect((await fetch(h.url)).status).toBe(405);
    expect((await listed(h)).deadLetters).toEqual([]);
  });

  it("refuses a dead letter over the size limit with 413, whatever Content-Length says", async () => {
    const big = new Uint8Array(8193).fill(1);
    expect((await postDeadLetter(h.url, { id: "big", body: big })).status).toBe(413);
    // No Content-Length (a stream): counted on the wire.
    const streamed = await fetch(h.url, {
      method: "POST",
      headers: { "ce-specversion": "1.0", "ce-id": "big2", "ce-source": "/s", "ce-type": "t" },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 9; i++) controller.enqueue(new Uint8Array(1024));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await postDeadLetter(h.url, { id: "fits", body: new Uint8Array(8000) })).status).toBe(202);
    expect((await listed(h)).deadLetters.map((e) => e.attributes.id)).toEqual(["fits"]);
  });
});

describe("deadletter function: memory outages", () => {
  it("answers 503 with Retry-After while the memory service is unreachable, and keeps what arrives once it is back", async () => {
    let outage: ReturnType<typeof switchableStore> | undefined;
    const h = await startDeadLetter({
      deps: (memory, queue) => {
        outage = switchableStore(memory, queue);
        return { store: outage.store };
      },
    });
    try {
      outage!.state.down = true;
      const refused = await postDeadLetter(h.url, { id: "during-outage" });
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
      expect((await h.api("/v1/deadletters")).status).toBe(503);
      outage!.state.down = false;
      expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
      // The broker's retry of the same dead letter now lands.
      expect((await postDeadLetter(h.url, { id: "during-outage" })).status).toBe(202);
      const entries = (await h.stored.listDeadLetters(h.queue)).deadLetters;
      expect(entries.map((e) => [e.attributes.id, e.receivedCount])).toEqual([["during-outage", 1]]);
    } finally {
      await h.close();
    }
  });

  it("answers 503 when the memory service is not there at all", async () => {
    const h = await startDeadLetter({ env: { KNCLAW_MEMORY_URL: "http://127.0.0.1:9" } });
    try {
      expect((await postDeadLetter(h.url)).status).toBe(503);
      expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
    } finally {
      await h.close();
    }
  });
});

describe("deadletter function: operator API", () => {
  let h: DeadLetterHarness;
  beforeAll(async () => {
    h = await startDeadLetter();
  });
  afterAll(() => h.close());

  it("requires the bearer token in the Authorization header, compared exactly", async () => {
    await postDeadLetter(h.url, { id: "auth" });
    const cases: Array<[Record<string, string>, number]> = [
      [{ authorization: "" }, 401],
      [{ authorization: `Basic ${Buffer.from(`x:${API_TOKEN}`).toString("base64")}` }, 401],
      [{ authorization: `Bearer ${API_TOKEN}x` }, 401],
      [{ authorization: `Bearer ${API_TOKEN.slice(0, -1)}` }, 401],
      [{ authorization: "Bearer" }, 401],
      [{ authorization: `bearer ${API_TOKEN}` }, 200],
    ];
    for (const [headers, status] of cases) {
      const response = await h.api("/v1/deadletters", { headers });
      expect(response.status).toBe(status);
      const text = await response.text();
      expect(text).not.toContain(API_TOKEN);
      if (status === 401) expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    for (const param of ["token", "access_token"]) {
      const inUrl = await h.api(`/v1/deadletters?${param}=${API_TOKEN}`);
      expect(inUrl.status).toBe(400);
      expect(await errorCode(inUrl)).toBe("credentials_in_url");
    }
    // The broker's delivery path needs no token; the API does, for every verb.
    for (const method of ["GET", "POST", "DELETE"]) {
      const path = method === "POST" ? "/v1/deadletters/dl_x/replay" : "/v1/deadletters/dl_x";
      expect((await h.api(path, { method, headers: { authorization: "" } })).status).toBe(401);
    }
  });

  it("lists newest first with filters and a cursor, and shows one entry", async () => {
    for (const [id, instance, type] of [
      ["a1", "alpha", "t.one"],
      ["a2", "beta", "t.two"],
      ["a3", "alpha", "t.two"],
    ]) {
      await postDeadLetter(h.url, { id: id!, headers: { "ce-knclawinstance": instance!, "ce-type": type! } });
    }
    const ids = async (query: string) => (await listed(h, query)).deadLetters.map((e) => e.attributes.id);
    expect(await ids("?instance=alpha")).toEqual(["a3", "a1"]);
    expect(await ids("?type=t.two")).toEqual(["a3", "a2"]);
    expect(await ids("?type=t.two&instance=beta")).toEqual(["a2"]);
    expect(
      await ids(`?destination=${encodeURIComponent("http://agent-assistant.knclaw.svc.cluster.local")}&instance=beta`),
    ).toEqual(["a2"]);
    const first = await listed(h, "?instance=alpha&limit=1");
    expect(first.deadLetters.map((e) => e.attributes.id)).toEqual(["a3"]);
    const second = await listed(h, `?instance=alpha&limit=1&cursor=${first.nextCursor}`);
    expect(second.deadLetters.map((e) => e.attributes.id)).toEqual(["a1"]);
    expect((await h.api("/v1/deadletters?limit=0")).status).toBe(400);
    expect((await h.api("/v1/deadletters?cursor=garbage")).status).toBe(400);
    expect((await h.api("/v1/deadletters?surprise=1")).status).toBe(400);
    expect((await h.api("/v1/deadletters/not-an-id")).status).toBe(400);
    expect((await h.api("/v1/deadletters/dl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).status).toBe(404);
  });

  it("replays the original event (same id, no knativeerror* extensions) to K_SINK and records it", async () => {
    const bytes = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0]);
    await postDeadLetter(h.url, { id: "replay-me", body: bytes, headers: { "ce-knclawrun": "run-7" } });
    const entry = (await listed(h, "?type=dev.knclaw.message.received")).deadLetters.find(
      (e) => e.attributes.id === "replay-me",
    )!;
    const before = h.broker.received.length;
    const response = await h.api(`/v1/deadletters/${entry.id}/replay`, { method: "POST" });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { replayed: Record<string, string>; deadLetter: { replayCount: number } };
    expect(answer.replayed).toEqual({ id: "replay-me", source: "/knclaw/test", type: "dev.knclaw.message.received" });
    expect(answer.deadLetter.replayCount).toBe(1);
    const [sent] = (await h.broker.waitFor(before + 1)).slice(before);
    expect(sent!.path).toBe("/knclaw/default");
    const attributes = receivedAttributes(sent!);
    expect(attributes).toMatchObject({
      id: "replay-me",
      source: "/knclaw/test",
      type: "dev.knclaw.message.received",
      knclawinstance: "assistant",
      knclawrun: "run-7",
      datacontenttype: "application/octet-stream",
    });
    expect(Object.keys(attributes).filter((name) => name.startsWith("knativeerror"))).toEqual([]);
    expect(sent!.body).toEqual(Buffer.from(bytes));
    const after = await shown(h, entry.id);
    expect(after.replayCount).toBe(1);
    expect(after.replayedAt).not.toBeNull();
  });

  it("keeps a signed event's signature through storage and replay, so its consumer verifies the replay as the original", async () => {
    const original = signAs(
      "channel/slack",
      makeEvent(T.MESSAGE_RECEIVED, {
        id: "signed-dead-letter",
        source: "/knclaw/channels/slack",
        data: {
          instance: "assistant",
          channel: "slack",
          messageId: "m-1",
          conversation: "C1",
          sender: { channel: "slack", id: "U1" },
          text: "hello",
          replyTo: { channel: "slack", conversation: "C1" },
          receivedAt: "2026-03-01T10:00:00.000Z",
        },
      }),
    );
    // As the broker dead-letters it: with its TTL and Knative's error extensions beside the producer's.
    const { headers, body } = encodeBinary(original);
    const delivered = await fetch(h.url, {
      method: "POST",
      headers: {
        ...headers,
        "ce-knativebrokerttl": "254",
        "ce-knativeerrordest": "http://agent-assistant.knclaw.svc.cluster.local",
        "ce-knativeerrorcode": "403",
      },
      body: body as RequestInit["body"],
    });
    expect(delivered.status).toBe(202);
    const entry = (await listed(h, "?type=dev.knclaw.message.received")).deadLetters.find(
      (e) => e.attributes.id === "signed-dead-letter",
    )!;
    expect(entry.attributes).toMatchObject({
      knclawproducer: "channel/slack",
      knclawsignature: expect.stringMatching(/^v1\./),
    });
    const before = h.broker.received.length;
    expect((await h.api(`/v1/deadletters/${entry.id}/replay`, { method: "POST" })).status).toBe(200);
    const [sent] = (await h.broker.waitFor(before + 1)).slice(before);
    const replayed = decodeMessageIfAny(
      new Headers(sent!.headers as Record<string, string>),
      new Uint8Array(sent!.body),
    )!;
    const trust = verifyingTrust(parseTrustBundle(trustBundle(["channel/slack"]), "bundle"), pino({ level: "silent" }));
    expect(() => trust.check(replayed)).not.toThrow();
    expect(replayed.attributes.knclawsignature).toBe(original.attributes.knclawsignature);
  });

  it("answers 502 when the broker refuses the replay, and leaves the entry as it was", async () => {
    await postDeadLetter(h.url, { id: "refused" });
    const entry = (await listed(h)).deadLetters.find((e) => e.attributes.id === "refused")!;
    h.broker.respond(() => ({ status: 400, body: "ttl exhausted" }));
    try {
      const response = await h.api(`/v1/deadletters/${entry.id}/replay`, { method: "POST" });
      expect(response.status).toBe(502);
      expect(await errorCode(response)).toBe("replay_refused");
    } finally {
      h.broker.respond(() => ({ status: 202 }));
    }
    const after = await shown(h, entry.id);
    expect(after).toMatchObject({ replayCount: 0, replayedAt: null });
    expect((await h.api("/v1/deadletters/dl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/replay", { method: "POST" })).status).toBe(
      404,
    );
  });

  it("deletes an entry", async () => {
    await postDeadLetter(h.url, { id: "delete-me" });
    const entry = (await listed(h)).deadLetters.find((e) => e.attributes.id === "delete-me")!;
    expect((await h.api(`/v1/deadletters/${entry.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await h.api(`/v1/deadletters/${entry.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await h.api(`/v1/deadletters/${entry.id}`)).status).toBe(404);
    expect((await listed(h)).deadLetters.some((e) => e.id === entry.id)).toBe(false);
  });
});

describe("deadletter function: configuration", () => {
  const memoryEnv = {
    KNCLAW_MEMORY_URL: "http://127.0.0.1:9",
    KNCLAW_MEMORY_TOKEN: mintMemoryToken(SECRET, { kind: "deadletter" }),
  };

  it("keeps dead letters without an API token, and answers the API with 403", async () => {
    const h = await startDeadLetter({ env: { KNCLAW_DEADLETTER_TOKEN: "" } });
    try {
      expect((await postDeadLetter(h.url, { id: "kept" })).status).toBe(202);
      const response = await h.api("/v1/deadletters");
      expect(response.status).toBe(403);
      expect(await errorCode(response)).toBe("disabled");
      expect((await h.stored.listDeadLetters(h.queue)).deadLetters).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it("answers a replay with 503 when it has no K_SINK", async () => {
    const h = await startDeadLetter({ env: { K_SINK: "" } });
    try {
      await postDeadLetter(h.url, { id: "no-sink" });
      const [entry] = (await listed(h)).deadLetters;
      const response = await h.api(`/v1/deadletters/${entry!.id}/replay`, { method: "POST" });
      expect(response.status).toBe(503);
      expect(await errorCode(response)).toBe("no_sink");
    } finally {
      await h.close();
    }
  });

  it("refuses to start on settings it cannot honour", async () => {
    const bad: Array<Record<string, string>> = [
      { KNCLAW_MEMORY_URL: "" },
      { KNCLAW_MEMORY_TOKEN: "" },
      { KNCLAW_DEADLETTER_TOKEN: "short" },
      { KNCLAW_DEADLETTER_MAX_BODY_BYTES: "12" },
      { KNCLAW_DEADLETTER_MAX_ENTRIES: "0" },
      { KNCLAW_DEADLETTER_MAX_AGE_MS: "1.5" },
      { KNCLAW_DEADLETTER_QUEUE: "Not_A_Label" },
    ];
    for (const override of bad) {
      await expect(createApp({ ...memoryEnv, ...override })).rejects.toBeInstanceOf(EnvError);
    }
    const served: Served = await serve(await createApp({ ...memoryEnv, NODE_ENV: "test" }), {
      port: 0,
      host: "127.0.0.1",
    });
    await served.shutdown();
  });
});
