import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpClient } from "../../../runtime/http/client.ts";
import { createHttpFetch, type HttpFetch } from "../../../runtime/http/fetch.ts";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A Node server that records each request and answers through `handle`. */
async function recording(handle: (seen: Seen, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("latin1");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const entry = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(entry);
      handle(entry, res);
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
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function httpFetch(): HttpFetch {
  const f = createHttpFetch();
  cleanup.push(() => f.close());
  return f;
}

describe("fetch on the shared client", () => {
  it("sends method, headers and body as fetch would, from a URL, a string or a Request", async () => {
    const s = await recording((_seen, res) => res.end("ok"));
    const f = httpFetch();
    await f(`${s.url}/a?x=1`, { method: "post", headers: { "X-One": "1" }, body: "text" });
    await f(new URL(`${s.url}/b`), {
      method: "PUT",
      headers: new Headers([["x-two", "2"]]),
      body: new TextEncoder().encode("bytes"),
    });
    await f(new Request(`${s.url}/c`, { method: "POST", headers: [["x-three", "3"]], body: "from request" }));
    await f(`${s.url}/d`, { method: "POST", body: new URLSearchParams({ q: "a b" }) });
    await f(`${s.url}/e`);
    expect(s.seen.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      "POST /a?x=1 text",
      "PUT /b bytes",
      "POST /c from request",
      "POST /d q=a+b",
      "GET /e ",
    ]);
    expect(s.seen[0]!.headers["x-one"]).toBe("1");
    expect(s.seen[0]!.headers["content-type"]).toBe("text/plain;charset=UTF-8");
    expect(s.seen[1]!.headers["x-two"]).toBe("2");
    expect(s.seen[2]!.headers["x-three"]).toBe("3");
    expect(s.seen[3]!.headers["content-type"]).toBe("application/x-www-form-urlencoded;charset=UTF-8");
  });

  it("answers a Response with status, status text, every header value and the body", async () => {
    const s = await recording((_seen, res) => {
      res.statusCode = 201;
      res.statusMessage = "Made";
      res.setHeader("set-cookie", ["a=1", "b=2"]);
      res.setHeader("content-type", "application/json");
      res.end('{"ok":true}');
    });
    const response = await httpFetch()(s.url, { method: "POST", body: "{}" });
    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe("Made");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("gives 204 and HEAD answers a null body", async () => {
    const s = await recording((seen, res) => {
      res.statusCode = seen.method === "HEAD" ? 200 : 204;
      res.end();
    });
    const f = httpFetch();
    expect((await f(s.url, { method: "DELETE" })).body).toBeNull();
    const head = await f(s.url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
  });

  it("does not follow redirects: the 3xx comes back as it is", async () => {
    const s = await recording((seen, res) => {
      if (seen.url === "/from") {
        res.writeHead(302, { location: "/to" });
        res.end();
      } else res.end("arrived");
    });
    const response = await httpFetch()(`${s.url}/from`);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/to");
    expect(s.seen).toHaveLength(1);
  });

  it("rejects with the signal's reason when aborted, and with a TypeError on network failure", async () => {
    const s = await recording(() => undefined);
    const f = httpFetch();
    const timedOut = await f(s.url, { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e);
    expect((timedOut as Error).name).toBe("TimeoutError");
    const controller = new AbortController();
    const pending = f(s.url, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(((await pending) as Error).name).toBe("AbortError");
    await expect(f(s.url, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });

    const refused = await f("http://127.0.0.1:9/").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as Error).message).toBe("fetch failed");
    await expect(f(s.url, { headers: { "x-evil": "a\r\nb: c" } })).rejects.toBeInstanceOf(TypeError);
    await expect(f("ftp://127.0.0.1/")).rejects.toBeInstanceOf(TypeError);
    await expect(f(s.url, { method: "GET", body: "no" })).rejects.toBeInstanceOf(TypeError);
  });

  it("reuses connections, and leaves a client it was given open when closed", async () => {
    const ports = new Set<number>();
    const s = await recording((_seen, res) => res.end());
    const server = await recording((_seen, res) => {
      res.end(String(res.socket?.remotePort));
    });
    const f = httpFetch();
    for (let i = 0; i < 4; i++) ports.add(Number(await (await f(server.url)).text()));
    expect(ports.size).toBe(1);

    const client = createHttpClient();
    cleanup.push(() => client.close());
    const borrowed = createHttpFetch({ client });
    expect((await borrowed(s.url)).status).toBe(200);
    await borrowed.close();
    expect((await client.request({ url: s.url })).status).toBe(200);
  });

  it("bounds the response body when asked to", async () => {
    const s = await recording((_seen, res) => res.end("x".repeat(100)));
    const f = createHttpFetch({ maxResponseBytes: 10 });
    cleanup.push(() => f.close());
    const error = await f(s.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(((error as Error).cause as { kind: string }).kind).toBe("response-too-large");
  });
});
