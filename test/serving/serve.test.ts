import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { serve } from "../../knative/serving/serve.ts";

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
