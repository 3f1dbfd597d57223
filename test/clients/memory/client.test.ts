import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryClient, MemoryError } from "../../../clients/memory/client.ts";
import { INTERNAL_ERROR, toApiError } from "../../../runtime/api-error.ts";
import { createHttpClient } from "../../../runtime/http/client.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { type RawServer, rawServer } from "../../support/raw-http-server.ts";

/** A scripted stand-in for the memory service: answers each request with the next scripted response. */
async function scripted(answers: Array<(body: unknown) => Response | Promise<Response>>) {
  const seen: Array<{ method: string; url: string; authorization: string | undefined; body: unknown }> = [];
  const app = new Hono();
  app.all("*", async (c) => {
    const text = await c.req.text();
    const body = text ? JSON.parse(text) : undefined;
    seen.push({ method: c.req.method, url: c.req.url, authorization: c.req.header("authorization"), body });
    const answer = answers[Math.min(seen.length - 1, answers.length - 1)]!;
    return answer(body);
  });
  const served = await serve({ fetch: app.fetch }, { port: 0, host: "127.0.0.1", drainTimeoutMs: 100 });
  servers.push(served);
  return { served, seen };
}

const servers: Served[] = [];
const rawServers: RawServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
  await Promise.all(rawServers.splice(0).map((s) => s.close()));
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const unavailable = () => json(503, { error: { code: "unavailable", message: "later" } });

describe("MemoryClient", () => {
  it("retries 503s with the same idempotency key and returns the eventual answer", async () => {
    const decision = { allowed: true, used: 3, remaining: 7, limit: 10, resetAt: null };
    const { served, seen } = await scripted([unavailable, unavailable, () => json(200, decision)]);
    const client = new MemoryClient({ baseUrl: served.url, token: "tok", retryDelayMs: 1 });
    expect(await client.consumeBudget("inst", "calls", { amount: 3, limit: 10 })).toEqual(decision);
    expect(seen).toHaveLength(3);
    const keys = seen.map((s) => (s.body as { requestId: string }).requestId);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(seen.every((s) => s.authorization === "Bearer tok" && !s.url.includes("tok"))).toBe(true);
  });

  it("generates idempotency keys per call for claims, run updates, audit batches, run and note ids", async () => {
    const { served, seen } = await scripted([() => json(200, { ok: true })]);
    const client = new MemoryClient({ baseUrl: served.url, token: "t" });
    await client.dedup({ namespace: "slack" }, { key: "e", ttlMs: 1000 });
    await client.updateRun("i", "r", { expectedVersion: 1 });
    await client.appendAudit("i", [{ type: "x" }]);
    await client.createRun("i");
    await client.addNote("i", { text: "n" });
    const bodies = seen.map((s) => s.body as Record<string, string>);
    // 128 random bits each (22 base64url characters), one per call.
    const generated = [bodies[0]!.claim, bodies[1]!.updateId, bodies[2]!.batchKey];
    for (const key of generated) expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(generated).size).toBe(3);
    expect(bodies[3]!.id).toMatch(/^run_/);
    expect(bodies[4]!.id).toMatch(/^note_/);
    // Given keys are kept.
    await client.dedup({ instance: "i" }, { key: "e", ttlMs: 1000, claim: "mine" });
    expect((seen[5]!.body as Record<string, string>).claim).toBe("mine");
    expect(seen[5]!.url).toMatch(/\/v1\/instances\/i\/dedup$/);
  });

  it("does not retry a definite answer and exposes its code, issues and current version", async () => {
    const { served, seen } = await scripted([
      () => json(412, { error: { code: "version_mismatch", message: "moved on", currentVersion: 7 } }),
    ]);
    const client = new MemoryClient({ baseUrl: served.url, token: "t", retryDelayMs: 1 });
    const error = await client.updateRun("i", "r", { expectedVersion: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MemoryError);
    expect(error).toMatchObject({ status: 412, code: "version_mismatch", currentVersion: 7, retryable: false });
    expect(seen).toHaveLength(1);
  });

  it("fails at once on a 503 that names Retry-After, which a function then answers with the same Retry-After", async () => {
    const { served, seen } = await scripted([
      () => json(503, { error: { code: "unavailable", message: "store down" } }, { "retry-after": "2" }),
    ]);
    const client = new MemoryClient({ baseUrl: served.url, token: "t", retries: 3, retryDelayMs: 1 });
    const error = await client.readSession("i", "main").catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: "unavailable", retryAfterSeconds: 2, retryable: true });
    // The service said when to come back: the client does not sleep through it (three waits were 3.2 s per call).
    expect(seen).toHaveLength(1);
    const answer = toApiError(error);
    expect([answer.status, answer.code, answer.headers["retry-after"]]).toEqual([503, "unavailable", "2"]);
    // Any other memory answer reaching a function's error handler is that function's bug: never passed through.
    expect(toApiError(new MemoryError(404, "not_found", "no such run"))).toBe(INTERNAL_ERROR);
    expect(toApiError(new MemoryError(0, "network", "unreachable")).headers["retry-after"]).toBe("1");
  });

  it("waits out a Retry-After when asked to (patient background work)", async () => {
    const { served, seen } = await scripted([
      () => json(503, { error: { code: "unavailable", message: "store down" } }, { "retry-after": "0.01" }),
      () => json(200, { ok: true }),
    ]);
    const client = new MemoryClient({ baseUrl: served.url, token: "t", retryDelayMs: 1, waitOutRetryAfter: true });
    await client.putValue({ namespace: "n" }, "k", "v", 1000);
    expect(seen).toHaveLength(2);
  });

  it("gives up after its retries with the last failure", async () => {
    const { served, seen } = await scripted([unavailable]);
    const client = new MemoryClient({ baseUrl: served.url, token: "t", retries: 2, retryDelayMs: 1 });
    await expect(client.readSession("i", "main")).rejects.toMatchObject({ status: 503, code: "unavailable" });
    expect(seen).toHaveLength(3);
  });

  it("treats a foreign error page as the status it carries", async () => {
    const { served, seen } = await scripted([() => new Response("<html>bad gateway</html>", { status: 502 })]);
    const client = new MemoryClient({ baseUrl: served.url, token: "t", retryDelayMs: 1 });
    await expect(client.listRuns("i")).rejects.toMatchObject({ status: 502, code: "internal" });
    expect(seen).toHaveLength(1);
  });

  it("retries network failures and reports them as such", async () => {
    const { served } = await scripted([() => json(200, {})]);
    await served.shutdown();
    const client = new MemoryClient({ baseUrl: served.url, token: "t", retries: 1, retryDelayMs: 1 });
    await expect(client.getLock("i", "l")).rejects.toMatchObject({ status: 0, code: "network" });
  });

  it("times out an attempt that gets no answer, also through an injected fetch that ignores aborts", async () => {
    let release!: () => void;
    const gate = new Promise<Response>((resolve) => {
      release = () => resolve(json(200, {}));
    });
    const { served, seen } = await scripted([() => gate]);
    const overHttp = new MemoryClient({ baseUrl: served.url, token: "t", timeoutMs: 50, retries: 1, retryDelayMs: 1 });
    await expect(overHttp.getLock("i", "l")).rejects.toMatchObject({ status: 0, code: "timeout" });
    expect(seen).toHaveLength(2);
    release();
    let calls = 0;
    const stuck = new MemoryClient({
      baseUrl: "http://memory.invalid",
      token: "t",
      timeoutMs: 50,
      retries: 0,
      fetch: () => {
        calls += 1;
        return new Promise<Response>(() => {});
      },
    });
    await expect(stuck.getLock("i", "l")).rejects.toMatchObject({ code: "timeout" });
    expect(calls).toBe(1);
  });

  it("answers undefined for a missing run or note, and encodes every path segment", async () => {
    const { served, seen } = await scripted([
      () => json(404, { error: { code: "not_found", message: "run not found" } }),
    ]);
    const client = new MemoryClient({ baseUrl: `${served.url}/`, token: "t" });
    expect(await client.getRun("inst", "r/1?x")).toBeUndefined();
    expect(await client.findRun("r 2")).toBeUndefined();
    expect(await client.getNote("inst", "n#1")).toBeUndefined();
    expect(await client.getValue({ namespace: "ns" }, "a/b")).toBeUndefined();
    expect(seen.map((s) => new URL(s.url).pathname)).toEqual([
      "/v1/instances/inst/runs/r%2F1%3Fx",
      "/v1/runs/r%202",
      "/v1/instances/inst/notes/n%231",
      "/v1/namespaces/ns/values/a%2Fb",
    ]);
    // A 404 for an unknown route is an error, not "missing".
    const { served: other } = await scripted([
      () => json(404, { error: { code: "method_not_allowed", message: "x" } }),
    ]);
    await expect(new MemoryClient({ baseUrl: other.url, token: "t" }).getRun("i", "r")).rejects.toBeInstanceOf(
      MemoryError,
    );
  });

  it("reports readiness from /readyz", async () => {
    const { served } = await scripted([() => json(503, { ready: false }), () => json(200, { ready: true })]);
    const client = new MemoryClient({ baseUrl: served.url, token: "t" });
    expect(await client.ready()).toBe(false);
    expect(await client.ready()).toBe(true);
  });

  it("keeps one kept-alive connection across calls, and re-sends a call whose connection was closed under it", async () => {
    const answer = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}';
    const server = await rawServer((_request, socket, index) => {
      // The third call lands on the kept-alive connection, which the service drops without answering.
      if (index === 2) socket.destroy();
      else socket.write(answer);
    });
    rawServers.push(server);
    const client = new MemoryClient({ baseUrl: server.url, token: "t", retries: 0 });
    await client.dedup({ namespace: "n" }, { key: "a", ttlMs: 1000 });
    await client.dedup({ namespace: "n" }, { key: "b", ttlMs: 1000 });
    expect(server.connections()).toBe(1);
    // No retry of the client's own (retries: 0): the transport sent it again on a fresh connection.
    expect(await client.dedup({ namespace: "n" }, { key: "c", ttlMs: 1000 })).toEqual({ ok: true });
    expect(server.requests).toHaveLength(4);
    const claims = server.requests.slice(2).map((r) => JSON.parse(r.slice(r.indexOf("\r\n\r\n") + 4)).claim);
    expect(claims[0]).toBe(claims[1]);
  });

  it("sends through the HTTP client it is given, with that client's limits", async () => {
    const { served } = await scripted([() => json(200, { padding: "x".repeat(4096) })]);
    const http = createHttpClient({ maxResponseBytes: 1024 });
    try {
      const client = new MemoryClient({ baseUrl: served.url, token: "t", retries: 0, http });
      const error = await client.getLock("i", "l").catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 0, code: "network" });
      expect(((error as MemoryError).cause as { kind: string }).kind).toBe("response-too-large");
    } finally {
      await http.close();
    }
  });
});
