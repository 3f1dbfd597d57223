import { MemoryClient } from "../../../../clients/memory/client.ts";
import { mintMemoryToken } from "../../../../clients/memory/tokens.ts";
import { createApp, type DeadLetterDeps } from "../../../../functions/deadletter/app.ts";
import { memoryStore } from "../../../../functions/deadletter/store.ts";
import { type Served, serve } from "../../../../runtime/serve.ts";
import { type Subscriber, startSubscriber } from "../../../support/dev-platform.ts";
import { freshInstance, type MemoryHarness, SECRET, startMemory } from "../../memory/support/harness.ts";

export const API_TOKEN = "deadletter-api-token-for-tests-0123";

/**
 * The deadletter function over real HTTP on loopback, its memory service (embedded backend, its own process-local
 * app over HTTP) and a stand-in broker (a test HTTP server) as K_SINK for replays. Each test gets its own queue.
 */
export interface DeadLetterHarness {
  url: string;
  memory: MemoryHarness;
  broker: Subscriber;
  queue: string;
  /** The memory service as the function sees it (for checking what was stored). */
  stored: MemoryClient;
  /** Operator API call with the bearer token (or the given headers instead). */
  api(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  deps?: (memory: MemoryHarness, queue: string) => DeadLetterDeps;
}

export async function startDeadLetter(options: HarnessOptions = {}): Promise<DeadLetterHarness> {
  const memory = await startMemory({ KNCLAW_MEMORY_BACKEND: "embedded" });
  const broker = await startSubscriber(() => ({ status: 202 }));
  const queue = freshInstance();
  const memoryToken = mintMemoryToken(SECRET, { kind: "deadletter" });
  const app = await createApp(
    {
      NODE_ENV: "test",
      KNCLAW_MEMORY_URL: memory.url,
      KNCLAW_MEMORY_TOKEN: memoryToken,
      KNCLAW_DEADLETTER_TOKEN: API_TOKEN,
      KNCLAW_DEADLETTER_QUEUE: queue,
      K_SINK: `${broker.url}/knclaw/default`,
      ...options.env,
    },
    options.deps?.(memory, queue) ?? {},
  );
  const served: Served = await serve(app, { port: 0, host: "127.0.0.1", drainTimeoutMs: 1000 });
  return {
    url: served.url,
    memory,
    broker,
    queue,
    stored: new MemoryClient({ baseUrl: memory.url, token: memoryToken }),
    api: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${API_TOKEN}`);
      return fetch(`${served.url}${path}`, { ...init, headers });
    },
    close: async () => {
      await served.shutdown();
      await broker.close();
      await memory.close();
    },
  };
}

/** A store whose connection to the memory service can be cut and restored (a memory outage, deterministically). */
export function switchableStore(memory: MemoryHarness, queue: string) {
  const state = { down: false };
  const client = new MemoryClient({
    baseUrl: memory.url,
    token: mintMemoryToken(SECRET, { kind: "deadletter" }),
    retries: 1,
    retryDelayMs: 5,
    fetch: (request) => (state.down ? Promise.reject(new TypeError("fetch failed")) : fetch(request)),
  });
  return { state, store: memoryStore(client, queue) };
}

/** POST a binary-mode dead letter as the broker delivers it: the event's headers, the error extensions, the data. */
export function postDeadLetter(
  url: string,
  init: { id?: string; headers?: Record<string, string>; body?: Uint8Array | string; errorBody?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    "ce-specversion": "1.0",
    "ce-id": init.id ?? "event-1",
    "ce-source": "/knclaw/test",
    "ce-type": "dev.knclaw.message.received",
    "ce-knclawinstance": "assistant",
    "ce-knativeerrordest": "http://agent-assistant.knclaw.svc.cluster.local",
    "ce-knativeerrorcode": "400",
    "ce-knativeerrordata": Buffer.from(init.errorBody ?? "bad request").toString("base64"),
    "content-type": "application/octet-stream",
    ...init.headers,
  };
  return fetch(url, { method: "POST", headers, body: (init.body ?? "payload") as RequestInit["body"] });
}
