import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BrokerClient, BrokerEmitError } from "../../../eventing/client/broker-client.ts";
import { type CloudEvent, withAttributes } from "../../../eventing/cloudevent/event.ts";
import { createHttpClient } from "../../../runtime/http/client.ts";

interface Seen {
  headers: IncomingMessage["headers"];
  body: string;
  remotePort: number | undefined;
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A broker ingress stand-in: records each POST and answers with the next scripted answer (the last repeats). */
async function ingress(answers: Array<(res: ServerResponse) => void>) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      seen.push({ headers: req.headers, body, remotePort: req.socket.remotePort });
      answers[Math.min(seen.length, answers.length) - 1]!(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { sink: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ns/default`, seen };
}

const accepted = (res: ServerResponse) => {
  res.statusCode = 202;
  res.end();
};
const status =
  (code: number, headers: Record<string, string> = {}) =>
  (res: ServerResponse) => {
    res.writeHead(code, headers);
    res.end(`status ${code}`);
  };

const event = (id: string): CloudEvent => ({
  attributes: { specversion: "1.0", id, source: "/test", type: "dev.knclaw.test", datacontenttype: "application/json" },
  data: new TextEncoder().encode('{"n":1}'),
});

async function emitError(promise: Promise<void>): Promise<BrokerEmitError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BrokerEmitError);
  return error as BrokerEmitError;
}

describe("BrokerClient over HTTP", () => {
  it("posts binary events with the K_CE_OVERRIDES extensions and trace context, on one kept-alive connection", async () => {
    const { sink, seen } = await ingress([accepted]);
    const http = createHttpClient();
    cleanup.push(() => http.close());
    const client = BrokerClient.fromEnv({ K_SINK: sink, K_CE_OVERRIDES: '{"extensions":{"team":"ops"}}' }, { http });
    for (const id of ["a", "b", "c"])
      await client.emit(event(id), { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
    expect(seen.map((s) => s.headers["ce-id"])).toEqual(["a", "b", "c"]);
    expect(seen[0]!.headers["ce-team"]).toBe("ops");
    expect(seen[0]!.headers["ce-type"]).toBe("dev.knclaw.test");
    expect(seen[0]!.headers.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(seen[0]!.headers["content-type"]).toBe("application/json");
    expect(seen[0]!.body).toBe('{"n":1}');
    expect(new Set(seen.map((s) => s.remotePort)).size).toBe(1);
  });

  it("refuses to send a signed event whose knclaw extensions K_CE_OVERRIDES would change", async () => {
    const { sink, seen } = await ingress([accepted]);
    const client = BrokerClient.fromEnv({ K_SINK: sink, K_CE_OVERRIDES: '{"extensions":{"knclawinstance":"ops"}}' });
    const signed = withAttributes(event("signed"), { knclawproducer: "gateway", knclawsignature: "v1.x.y" });
    const error = await emitError(client.emit(signed));
    expect(error.message).toMatch(/would break the event's signature/);
    expect(seen).toHaveLength(0);
    // An unsigned producer's events (a service of your own) take the overrides as Knative gives them.
    await client.emit(event("unsigned"));
    expect(seen.map((s) => s.headers["ce-knclawinstance"])).toEqual(["ops"]);
  });

  it("works on the process's shared client when given none", async () => {
    const { sink, seen } = await ingress([accepted]);
    await new BrokerClient({ sink }).emit(event("shared"));
    expect(seen).toHaveLength(1);
  });

  it("retries retryable answers, waiting at least what Retry-After asks (capped)", async () => {
    const { sink, seen } = await ingress([status(503), status(429, { "retry-after": "3600" }), accepted]);
    const client = new BrokerClient({ sink, backoffDelayMs: 1, maxRetryAfterMs: 20 });
    const started = performance.now();
    await client.emit(event("r"));
    expect(seen.map((s) => s.headers["ce-id"])).toEqual(["r", "r", "r"]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
  });

  it("does not retry a definite refusal, and reports status and attempts", async () => {
    const { sink, seen } = await ingress([status(400)]);
    const error = await emitError(new BrokerClient({ sink, backoffDelayMs: 1 }).emit(event("bad")));
    expect(error.status).toBe(400);
    expect(error.message).toContain("HTTP 400");
    expect(seen).toHaveLength(1);
  });

  it("gives up after its retries on network failures and timeouts, naming the kind but never the sink", async () => {
    const refused = await emitError(
      new BrokerClient({ sink: "http://127.0.0.1:9/secret-path", retries: 2, backoffDelayMs: 1 }).emit(event("n")),
    );
    expect(refused.status).toBeUndefined();
    expect(refused.attempts).toBe(3);
    expect(refused.message).toMatch(/: network$/);
    expect(refused.message).not.toContain("secret-path");

    const { sink, seen } = await ingress([() => undefined]);
    const slow = await emitError(
      new BrokerClient({ sink, retries: 1, backoffDelayMs: 1, timeoutMs: 50 }).emit(event("t")),
    );
    expect(slow.message).toMatch(/: timeout$/);
    expect(seen).toHaveLength(2);
  });

  it("ignores the body of an accepted answer, however large", async () => {
    const { sink, seen } = await ingress([
      (res) => {
        res.statusCode = 202;
        res.end("x".repeat(256 * 1024));
      },
    ]);
    await expect(new BrokerClient({ sink }).emit(event("big"))).resolves.toBeUndefined();
    // Accepted on the first attempt: the large answer body is neither an error nor a reason to retry.
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers["ce-id"]).toBe("big");
  });

  it("sends through an injected fetch instead of HTTP when given one", async () => {
    const calls: Array<{ url: string; method: string | undefined; id: string | null }> = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      calls.push({ url, method: init.method, id: new Headers(init.headers).get("ce-id") });
      return new Response(null, { status: 202 });
    }) as unknown as typeof fetch;
    await new BrokerClient({ sink: "http://broker.knclaw.svc.cluster.local/ns/default", fetch: fetchImpl }).emit(
      event("in-process"),
    );
    expect(calls).toEqual([
      { url: "http://broker.knclaw.svc.cluster.local/ns/default", method: "POST", id: "in-process" },
    ]);
  });
});
