import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach } from "vitest";
import { parseAllDocuments } from "yaml";
import type { BrokerStoreChoice } from "../../cli/dev/broker-store.ts";
import { type DevOptions, type DevRuntime, startDev } from "../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";

/** A request a test subscriber received. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type Responder = (request: Received, index: number) => Reply | Promise<Reply>;

/** A real HTTP server on an OS-chosen loopback port that records what it gets and answers as told. */
export interface Subscriber {
  url: string;
  received: Received[];
  /** Resolves once `count` requests have arrived (in total). */
  waitFor(count: number): Promise<Received[]>;
  /** Resolves with the first request (already received or future) that satisfies `predicate`. */
  waitUntil(predicate: (request: Received) => boolean): Promise<Received>;
  /** The first request carrying this event id (binary `ce-id` or structured `id`). */
  waitForEvent(id: string): Promise<Received>;
  respond(responder: Responder): void;
  close(): Promise<void>;
}

export async function startSubscriber(responder: Responder = () => ({ status: 200 })): Promise<Subscriber> {
  let current = responder;
  const received: Received[] = [];
  const waiters: Array<{ count: number; resolve: (r: Received[]) => void }> = [];
  const matchers: Array<{ predicate: (r: Received) => boolean; resolve: (r: Received) => void }> = [];
  const waitUntil = (predicate: (request: Received) => boolean): Promise<Received> => {
    const found = received.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => matchers.push({ predicate, resolve }));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const entry: Received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      const index = received.length;
      received.push(entry);
      // Waiters learn about a request as soon as it arrives, before it is answered (answers may be held back).
      for (const matcher of [...matchers]) {
        if (matcher.predicate(entry)) {
          matchers.splice(matchers.indexOf(matcher), 1);
          matcher.resolve(entry);
        }
      }
      for (const waiter of [...waiters]) {
        if (received.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(received.slice(0, waiter.count));
        }
      }
      let reply: Reply;
      try {
        reply = await current(entry, index);
      } catch {
        reply = { status: 500 };
      }
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    waitFor(count) {
      if (received.length >= count) return Promise.resolve(received.slice(0, count));
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    waitUntil,
    waitForEvent: (id) => waitUntil((r) => eventId(r) === id),
    respond(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The id of the event in a received request, whatever the mode. */
export function eventId(request: Received): string | undefined {
  const header = request.headers["ce-id"];
  if (typeof header === "string") return header;
  try {
    return (JSON.parse(request.body.toString("utf8")) as { id?: string }).id;
  } catch {
    return undefined;
  }
}

/** The event's attributes as the subscriber got them: `ce-` headers (percent-decoded) or the structured members. */
export function receivedAttributes(request: Received): Record<string, unknown> {
  const type = String(request.headers["content-type"] ?? "");
  if (type.startsWith("application/cloudevents+json")) {
    const parsed = JSON.parse(request.body.toString("utf8")) as Record<string, unknown>;
    delete parsed.data;
    delete parsed.data_base64;
    return parsed;
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.startsWith("ce-") && typeof value === "string") out[name.slice(3)] = decodeURIComponent(value);
  }
  if (request.headers["content-type"] !== undefined) out.datacontenttype = request.headers["content-type"];
  return out;
}

function objectsFromYaml(text: string): KnativeObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KnativeObject | null)
    .filter((o): o is KnativeObject => o !== null);
}

/**
 * Subscribers and runtimes for the tests of one describe block, each stopped after its test, last started first
 * (runtimes drain their deliveries before the subscribers they deliver to go away).
 */
export function testResources() {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  return {
    defer(fn: () => Promise<void>): void {
      cleanup.push(fn);
    },
    async subscriberWith(responder?: Responder): Promise<Subscriber> {
      const sub = await startSubscriber(responder);
      cleanup.push(() => sub.close());
      return sub;
    },
    async runtimeWith(yaml: string, options: Partial<DevOptions> = {}): Promise<DevRuntime> {
      const runtime = await startTestRuntime(yaml, options);
      cleanup.push(() => runtime.shutdown());
      return runtime;
    },
  };
}

let testBrokerStore: "memory" | "sqlite" | "redis" = "memory";

/**
 * Run this test file's runtimes on a durable broker store (a fresh SQLite file, or fresh keys on the test Redis at
 * `REDIS_URL`, default 127.0.0.1:6379), so a conformance suite imported after it checks the durable path too.
 */
export function useBrokerStore(kind: "memory" | "sqlite" | "redis"): void {
  testBrokerStore = kind;
}

export async function startTestRuntime(yaml: string, options: Partial<DevOptions> = {}): Promise<DevRuntime> {
  let store: BrokerStoreChoice = { kind: "memory" };
  let dir: string | undefined;
  let redisKeys: { url: string; prefix: string } | undefined;
  if (options.brokerStore === undefined && testBrokerStore === "sqlite") {
    dir = mkdtempSync(join(tmpdir(), "knclaw-broker-"));
    store = { kind: "sqlite", path: join(dir, "broker.sqlite") };
  } else if (options.brokerStore === undefined && testBrokerStore === "redis") {
    const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    redisKeys = { url, prefix: `knclaw-test:${randomUUID()}:` };
    store = { kind: "redis", url, keyPrefix: redisKeys.prefix, consumer: "test" };
  }
  const runtime = await startDev({
    objects: objectsFromYaml(yaml),
    port: 0,
    schedulePings: false,
    env: {},
    drainTimeoutMs: 5_000,
    brokerStore: store,
    ...options,
  });
  const stateDir = dir;
  const keys = redisKeys;
  if (stateDir === undefined && keys === undefined) return runtime;
  const shutdown = runtime.shutdown.bind(runtime);
  runtime.shutdown = async () => {
    await shutdown();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    if (keys) await deleteKeys(keys.url, keys.prefix);
  };
  return runtime;
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    const found = await redis.keys(`${prefix}*`);
    if (found.length > 0) await redis.del(...found);
  } finally {
    redis.disconnect();
  }
}

export interface BinaryEventInit {
  id?: string;
  type?: string;
  source?: string;
  specversion?: string;
  extra?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  contentType?: string;
}

/** POST a binary-mode event with exactly the given headers (no library in between). */
export function postBinary(url: string, init: BinaryEventInit = {}): Promise<Response> {
  const headers: Record<string, string> = {
    "ce-specversion": init.specversion ?? "1.0",
    "ce-id": init.id ?? "event-1",
    "ce-source": init.source ?? "/test",
    "ce-type": init.type ?? "dev.knclaw.test",
    ...Object.fromEntries(Object.entries(init.extra ?? {}).map(([k, v]) => [`ce-${k}`, v])),
    ...init.headers,
  };
  if (init.contentType !== undefined) headers["content-type"] = init.contentType;
  else if (init.body !== undefined) headers["content-type"] = "application/json";
  return fetch(url, { method: "POST", headers, body: init.body as RequestInit["body"] });
}

export function postStructured(
  url: string,
  event: Record<string, unknown>,
  contentType = "application/cloudevents+json",
): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": contentType }, body: JSON.stringify(event) });
}

/** Broker + one Trigger to `uri`, the smallest runnable wiring. */
export function brokerWithTrigger(uri: string, trigger: string = "", broker: string = ""): string {
  return `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
${broker}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t1, namespace: test }
spec:
  broker: default
  subscriber: { uri: "${uri}" }
${trigger}
`;
}
