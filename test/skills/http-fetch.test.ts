import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllowList } from "../../skills/http/allow-list.ts";
import { httpOptionsFromEnv } from "../../skills/http/definition.ts";
import type { Resolver } from "../../skills/http/guarded-connect.ts";
import { createHttpHandlers, type HttpResult, type HttpSkillOptions } from "../../skills/http/handlers.ts";
import { decodeEntities, htmlToText } from "../../skills/http/html-to-text.ts";
import { ToolFailure } from "../../skills/runtime/tool-error.ts";
import { toolContext } from "./support/context.ts";
import { type HttpTarget, startHttpTarget } from "./support/http-target.ts";

let target: HttpTarget;
const resolver: Resolver = async (hostname) => {
  if (hostname === "api.test") return [{ address: "127.0.0.1", family: 4 }];
  throw Object.assign(new Error("nx"), { code: "ENOTFOUND" });
};

function skill(options: Partial<HttpSkillOptions> = {}) {
  return createHttpHandlers({
    allowList: parseAllowList([`127.0.0.1:${target.port}`, `api.test:${target.port}`]),
    resolver,
    unsafeTestAllowance: [{ address: "127.0.0.1", port: target.port }],
    timeoutMs: 5_000,
    maxResponseBytes: 64 * 1024,
    maxRedirects: 3,
    maxTextBytes: 64 * 1024,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<ToolFailure> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ToolFailure);
  return error as ToolFailure;
}

beforeAll(async () => {
  target = await startHttpTarget({
    "/page": (_req, res) =>
      res
        .writeHead(200, { "content-type": "text/html; charset=utf-8", etag: '"v1"', "set-cookie": "session=secret" })
        .end("<html><head><script>steal()</script></head><body><h1>Status</h1><p>All &amp; well</p></body></html>"),
    "/json": (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'),
    "/echo": (req, res, body) =>
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, body })),
    "/big": (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(200_000)),
    "/bomb": (_req, res) =>
      res
        .writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" })
        .end(gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x61))),
    "/png": (_req, res) =>
      res.writeHead(200, { "content-type": "image/png" }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47])),
    "/hang": (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial");
    },
    "/see-other": (_req, res) => res.writeHead(303, { location: "/echo" }).end(),
    "/hop1": (_req, res) => res.writeHead(301, { location: "/hop2" }).end(),
    "/hop2": (_req, res) => res.writeHead(307, { location: "/json" }).end(),
    "/loop": (_req, res) => res.writeHead(302, { location: "/loop" }).end(),
    "/quotes": (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end('"\n'.repeat(40_000)),
  });
});

afterAll(async () => {
  await target.close();
});

describe("http skill requests", () => {
  it("GETs HTML as text without scripts, shows only useful headers", async () => {
    const result = (await skill().get({ url: `${target.origin}/page` }, toolContext())) as HttpResult;
    expect(result).toMatchObject({ status: 200, text: "Status\n\nAll & well", truncated: false, redirects: [] });
    expect(result.headers).toEqual({ "content-type": "text/html; charset=utf-8", etag: '"v1"' });
  });

  it("connects to the checked address but sends the name as Host", async () => {
    const result = (await skill().get({ url: `http://api.test:${target.port}/json` }, toolContext())) as HttpResult;
    expect(result.text).toBe('{"ok":true}');
    expect(target.seen.at(-1)?.headers.host).toBe(`api.test:${target.port}`);
  });

  it("POSTs JSON and text bodies", async () => {
    const json = (await skill().post({ url: `${target.origin}/echo`, json: { a: 1 } }, toolContext())) as HttpResult;
    expect(JSON.parse(json.text!)).toEqual({ method: "POST", body: '{"a":1}' });
    expect(target.seen.at(-1)?.headers["content-type"]).toBe("application/json");
    await skill().post({ url: `${target.origin}/echo`, body: "hi", contentType: "text/csv" }, toolContext());
    expect(target.seen.at(-1)?.headers["content-type"]).toBe("text/csv");
  });

  it("follows redirects within the allow-list, re-checking each hop, and turns a 303 into a GET", async () => {
    const chained = (await skill().get({ url: `${target.origin}/hop1` }, toolContext())) as HttpResult;
    expect(chained.url).toBe(`${target.origin}/json`);
    expect(chained.redirects).toEqual([`${target.origin}/hop1`, `${target.origin}/hop2`]);
    const seeOther = (await skill().post({ url: `${target.origin}/see-other`, json: {} }, toolContext())) as HttpResult;
    expect(JSON.parse(seeOther.text!)).toEqual({ method: "GET", body: "" });
  });

  it("stops redirect loops", async () => {
    const error = await failure(skill().get({ url: `${target.origin}/loop` }, toolContext()));
    expect(error.errorClass).toBe("Unavailable");
    expect(error.message).toMatch(/more than 3 redirects/);
  });

  it("caps bodies, decompressed size included", async () => {
    const big = (await skill({ maxResponseBytes: 1000 }).get(
      { url: `${target.origin}/big` },
      toolContext(),
    )) as HttpResult;
    expect(big).toMatchObject({ truncated: true });
    expect(big.text).toHaveLength(1000);
    const bomb = (await skill({ maxResponseBytes: 4096 }).get(
      { url: `${target.origin}/bomb` },
      toolContext(),
    )) as HttpResult;
    expect(bomb.truncated).toBe(true);
    expect(bomb.text).toBe("a".repeat(4096));
  });

  it("keeps the JSON encoding of the text under the output budget", async () => {
    const result = (await skill({ maxTextBytes: 10_000 }).get(
      { url: `${target.origin}/quotes` },
      toolContext(),
    )) as HttpResult;
    expect(result.truncated).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(result.text))).toBeLessThanOrEqual(10_000);
  });

  it("omits binary bodies", async () => {
    const result = (await skill().get({ url: `${target.origin}/png` }, toolContext())) as HttpResult;
    expect(result.text).toBeUndefined();
    expect(result.omitted).toMatch(/4 bytes of image\/png/);
  });

  it("times out a response that never ends", async () => {
    const error = await failure(skill({ timeoutMs: 300 }).get({ url: `${target.origin}/hang` }, toolContext()));
    expect(error.errorClass).toBe("Timeout");
  });

  it("stops when the call is cancelled", async () => {
    const controller = new AbortController();
    const pending = skill().get({ url: `${target.origin}/hang` }, toolContext({ signal: controller.signal }));
    controller.abort();
    expect((await failure(pending)).errorClass).toBe("Timeout");
  });

  it("refuses hop-by-hop and framing headers", async () => {
    for (const name of ["Host", "Content-Length", "Transfer-Encoding", "Proxy-Authorization", "Connection"]) {
      const error = await failure(
        skill().get({ url: `${target.origin}/json`, headers: { [name]: "x" } }, toolContext()),
      );
      expect(error.errorClass, name).toBe("ValidationFailed");
    }
  });

  it("maps DNS and connection failures", async () => {
    const nx = skill({ allowList: parseAllowList(["missing.test"]) });
    expect((await failure(nx.get({ url: "http://missing.test/" }, toolContext()))).errorClass).toBe("NotFound");
  });

  it("reads its options from the environment, with no switch for the address policy", () => {
    const options = httpOptionsFromEnv({ KNCLAW_ALLOWED_HOSTS: "api.github.com, *.example.com example.org:8443" });
    expect(options.allowList).toEqual([
      { pattern: "api.github.com", wildcard: false },
      { pattern: "example.com", wildcard: true },
      { pattern: "example.org", wildcard: false, port: 8443 },
    ]);
    expect(options.unsafeTestAllowance).toBeUndefined();
    expect(() => httpOptionsFromEnv({ KNCLAW_ALLOWED_HOSTS: "http://x.com/" })).toThrow();
    expect(() => httpOptionsFromEnv({ HTTP_TIMEOUT_MS: "-1" })).toThrow(/HTTP_TIMEOUT_MS/);
  });
});

describe("HTML to text", () => {
  it("drops non-content elements and comments, keeps structure and link targets", () => {
    const html = `<!doctype html><html><head><title>T</title><style>p{}</style></head><body>
      <nav><a href="https://example.com/a?x=1&amp;y=2">A link</a> <a href="javascript:alert(1)">js</a></nav>
      <!-- <p>hidden</p> --><script type="text/javascript">var s = "</p>";</script>
      <ul><li>one</li><li>two</li></ul><pre>  keep
    indent</pre><p>3 &lt; 4 &#x263A; &#9731; &bogus; &#0;</p></body></html>`;
    expect(htmlToText(html)).toBe(
      "T\n\nA link (https://example.com/a?x=1&y=2) js\n\n- one\n- two\n\n  keep\n    indent\n\n3 < 4 ☺ ☃ &bogus; \uFFFD",
    );
  });

  it("survives unclosed and hostile markup in linear time", () => {
    expect(htmlToText("<p>a <b>b")).toBe("a b");
    expect(htmlToText("a < b and <3")).toBe("a < b and <3");
    expect(htmlToText("<script>never closed")).toBe("");
    expect(htmlToText('<a href="https://x.test/>">t</a>')).toBe("t (https://x.test/>)");
    // Shapes that make naive scanners quadratic: many skipped elements, unclosed tags, stray brackets.
    expect(htmlToText("<script>x</script>y".repeat(20_000))).toBe("y".repeat(20_000));
    expect(htmlToText(`${"<".repeat(50_000)} z`)).toBe(`${"<".repeat(50_000)} z`);
    expect(htmlToText(`ok${"<a ".repeat(50_000)}`)).toBe("ok");
    expect(htmlToText(`ok${"<!--".repeat(20_000)}`)).toBe("ok");
  });

  it("decodes entities but not invalid code points", () => {
    expect(decodeEntities("&amp;lt; &#x110000; &#xD800; &NBSP;")).toBe("&lt; \uFFFD \uFFFD  ");
  });
});
