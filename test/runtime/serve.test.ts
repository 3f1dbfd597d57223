import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { serve } from "../../runtime/serve.ts";

describe("serve (Knative runtime contract)", () => {
  it("finishes in-flight requests on shutdown, then refuses new connections and closes the app", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let closed = false;
    const app = new Hono();
    app.get("/slow", async (c) => {
      entered();
      await gate;
      return c.text("done");
    });
    const served = await serve(
      {
        fetch: app.fetch,
        close: async () => {
          closed = true;
        },
      },
      { port: 0, host: "127.0.0.1" },
    );
    const inflight = fetch(`${served.url}/slow`);
    await inHandler;
    const stopping = served.shutdown();
    release();
    const response = await inflight;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("done");
    await stopping;
    expect(closed).toBe(true);
    await expect(fetch(`${served.url}/slow`)).rejects.toThrow();
  });

  it("listens on an OS-chosen port when asked for port 0", async () => {
    const served = await serve({ fetch: () => new Response("ok") }, { port: 0, host: "127.0.0.1" });
    expect(served.port).toBeGreaterThan(0);
    expect(await (await fetch(served.url)).text()).toBe("ok");
    await served.shutdown();
  });
});

describe("serve shutdown with unread request bodies", () => {
  it("does not wait for the drain timeout when a response was sent before the body was read", async () => {
    const { request } = await import("node:http");
    let answered!: () => void;
    const wasAnswered = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const served = await serve(
      {
        fetch: () => {
          answered();
          return new Response("too large", { status: 413 });
        },
      },
      { port: 0, host: "127.0.0.1", drainTimeoutMs: 600_000 },
    );
    // A client that declares a large body and sends only part of it keeps the request incomplete.
    const req = request(`${served.url}/`, { method: "POST", headers: { "content-length": "1000000" } });
    req.on("error", () => undefined);
    const status = new Promise<number>((resolve) => req.on("response", (res) => resolve(res.statusCode ?? 0)));
    req.write("x".repeat(1000));
    await wasAnswered;
    expect(await status).toBe(413);
    // The drain timeout is ten minutes, far past the test's timeout: shutdown finishing at all proves the
    // half-sent request's socket was not waited for.
    await served.shutdown();
    req.destroy();
  });
});
