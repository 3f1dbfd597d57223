import { chmodSync, existsSync, mkdtempSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  announceDevGateway,
  devGatewayTokens,
  GatewayApiError,
  gatewayClient,
  readServerSentEvents,
  type ServerSentEvent,
} from "../../cli/gateway-client.ts";
import {
  readSessionToken,
  removeSessionToken,
  resolveToken,
  sessionTokenPath,
  writeSessionToken,
} from "../../cli/session-tokens.ts";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { validateConfigValue } from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";

/** The pieces every gateway command shares: the SSE reader, the token lookup, errors, the dev session's token. */
function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(chunks: string[]): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(streamOf(chunks))) out.push(event);
  return out;
}

describe("readServerSentEvents", () => {
  it("reads events as the HTML standard defines them", async () => {
    const events = await collect([
      ": keep-alive\n\n",
      'id: 1\nevent: message\ndata: {"text":"a"}\n\n',
      "data: line one\r\ndata: line two\r\n\r\n",
      "id: 3\revent: completed\rdata:no space\r\r",
      "event: empty\n\n", // no data: not dispatched
      "id: bad\0id\ndata: x\n\n", // an id with NUL is ignored; the last id stays
      "data: unterminated", // the stream ends before the blank line: not dispatched
    ]);
    expect(events).toEqual([
      { id: "1", event: "message", data: '{"text":"a"}' },
      { id: "1", event: "message", data: "line one\nline two" },
      { id: "3", event: "completed", data: "no space" },
      { id: "3", event: "message", data: "x" },
    ]);
  });

  it("gives the same events however the bytes are split (CRLF split across chunks included)", async () => {
    const text =
      'id: 7\r\nevent: message\r\ndata: {"text":"héllo"}\r\n\r\n: ping\n\nid: 8\nevent: failed\ndata: {}\n\n';
    const whole = await collect([text]);
    expect(whole).toHaveLength(2);
    const bytes = new TextEncoder().encode(text);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 8 }),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
          const parts = points.slice(1).map((end, i) => bytes.slice(points[i], end));
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (const part of parts) controller.enqueue(part);
              controller.close();
            },
          });
          const out: ServerSentEvent[] = [];
          for await (const event of readServerSentEvents(stream)) out.push(event);
          expect(out).toEqual(whole);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("token lookup", () => {
  const port = 1; // no server runs on port 1: the session file is only looked up, never used
  afterAll(() => removeSessionToken("gateway", port));

  it("takes --token-file first, then the environment variable, then the dev session file of a local URL", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-token-"));
    const file = join(dir, "token");
    writeFileSync(file, "from-the-file-0123456789\n");
    writeSessionToken("gateway", port, "from-the-session-0123456789");
    const base = { envName: "KNCLAW_GATEWAY_TOKEN", api: "gateway" as const, what: "gateway" };
    const local = `http://127.0.0.1:${port}`;
    const env = { KNCLAW_GATEWAY_TOKEN: "from-the-env-0123456789" };
    expect(resolveToken({ ...base, tokenFile: file, env, baseUrl: local })).toBe("from-the-file-0123456789");
    expect(resolveToken({ ...base, env, baseUrl: local })).toBe("from-the-env-0123456789");
    expect(resolveToken({ ...base, env: {}, baseUrl: local })).toBe("from-the-session-0123456789");
    expect(resolveToken({ ...base, env: {}, baseUrl: `http://localhost:${port}/x` })).toBe(
      "from-the-session-0123456789",
    );
    // A URL elsewhere never reads this machine's session file.
    expect(() => resolveToken({ ...base, env: {}, baseUrl: `http://gateway.example.com:${port}` })).toThrow(
      /no gateway token: set KNCLAW_GATEWAY_TOKEN or pass --token-file/,
    );
    writeFileSync(file, "  \n");
    expect(() => resolveToken({ ...base, tokenFile: file, env, baseUrl: local })).toThrow(/is empty/);
  });

  it("ignores a session file others could read or have planted as a link", () => {
    const path = writeSessionToken("gateway", port, "private-0123456789");
    expect(readSessionToken("gateway", `http://127.0.0.1:${port}`)).toBe("private-0123456789");
    chmodSync(path, 0o644);
    expect(readSessionToken("gateway", `http://127.0.0.1:${port}`)).toBeUndefined();
    unlinkSync(path);
    const elsewhere = join(mkdtempSync(join(tmpdir(), "knclaw-link-")), "token");
    writeFileSync(elsewhere, "planted-0123456789", { mode: 0o600 });
    symlinkSync(elsewhere, path);
    expect(readSessionToken("gateway", `http://127.0.0.1:${port}`)).toBeUndefined();
    // Writing replaces the link instead of writing through it.
    writeSessionToken("gateway", port, "mine-0123456789");
    expect(readSessionToken("gateway", `http://127.0.0.1:${port}`)).toBe("mine-0123456789");
    expect(existsSync(elsewhere)).toBe(true);
    removeSessionToken("gateway", port);
    expect(existsSync(sessionTokenPath("gateway", port))).toBe(false);
  });
});

describe("gatewayClient", () => {
  let server: Server;
  let url: string;
  const seen: Array<{ url: string; authorization?: string }> = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push({ url: request.url!, authorization: request.headers.authorization });
      if (request.url === "/json-error") {
        response.writeHead(409, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { code: "conflict", message: "already decided" } }));
      } else if (request.url === "/text-error") {
        response.writeHead(502);
        response.end("bad gateway upstream");
      } else if (request.url === "/events") {
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.write("id: 1\nevent: message\ndata: {}\n\n");
        response.end("id: 2\nevent: completed\ndata: {}\n\n");
      } else {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ ok: true }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const token = "client-test-token-0123456789";
  const api = () => gatewayClient({ url: `${url}/`, env: { KNCLAW_GATEWAY_TOKEN: token } });

  it("sends the token in the Authorization header only, and reports the gateway's own error message", async () => {
    await expect(api().get("/ok?x=1")).resolves.toEqual({ ok: true });
    expect(seen.at(-1)).toMatchObject({ url: "/ok?x=1", authorization: `Bearer ${token}` });
    const conflict = await api()
      .post("/json-error", { a: 1 })
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(GatewayApiError);
    expect(conflict).toMatchObject({
      status: 409,
      code: "conflict",
      message: "the gateway answered 409: already decided",
    });
    await expect(api().get("/text-error")).rejects.toThrow("the gateway answered 502: bad gateway upstream");
    for (const entry of seen) expect(entry.url).not.toContain(token);
  });

  it("streams events and stops where the server ends the stream", async () => {
    const events: ServerSentEvent[] = [];
    for await (const event of api().events("/events")) events.push(event);
    expect(events.map((e) => `${e.id}:${e.event}`)).toEqual(["1:message", "2:completed"]);
  });
});

describe("knclaw dev's gateway token", () => {
  function objects(tokens: Record<string, unknown>): KnativeObject[] {
    return render(
      validateConfigValue({
        apiVersion: "knclaw.dev/v1alpha1",
        kind: "Platform",
        images: {
          default: "ghcr.io/knclaw/knclaw@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        },
        policies: { default: {} },
        gateway: { tokens },
        instances: { a: { model: "demo/echo" } },
      }),
    ) as unknown as KnativeObject[];
  }

  it("generates the configured tokens the environment does not give, under the gateway's own variables", () => {
    const env: Record<string, string | undefined> = { KNCLAW_GATEWAY_OPS_ADMIN: "given-by-secret-name-0123456789" };
    const result = devGatewayTokens(
      objects({
        cli: { secret: "knclaw-gateway", key: "cli-token" },
        admin: { secret: "knclaw-gateway-ops", key: "admin" },
        "ci-bot": { secret: "x", key: "y" },
      }),
      env,
    );
    expect(result.configured.sort()).toEqual(["admin", "ci-bot", "cli"]);
    expect([...result.generated.keys()].sort()).toEqual(["ci-bot", "cli"]);
    expect(env.KNCLAW_GATEWAY_TOKEN_CLI).toBe(result.generated.get("cli"));
    expect(env.KNCLAW_GATEWAY_TOKEN_CI_BOT).toBe(result.generated.get("ci-bot"));
    expect(env.KNCLAW_GATEWAY_TOKEN_ADMIN).toBeUndefined();
    expect(result.generated.get("cli")).not.toBe(result.generated.get("ci-bot"));
    // The gateway's own variable in the environment counts too.
    const given = { KNCLAW_GATEWAY_TOKEN_CLI: "given-0123456789abcdef" };
    expect(
      devGatewayTokens(objects({ cli: { secret: "knclaw-gateway", key: "cli-token" } }), given).generated.size,
    ).toBe(0);
  });

  it("announces the file of the `cli` token (else the first), and says so when nothing is configured", () => {
    const generated = new Map([
      ["zeta", "zeta-token-0123456789"],
      ["alpha", "alpha-token-0123456789"],
    ]);
    const port = 2;
    const announced = announceDevGateway("http://127.0.0.1:2", port, { generated, configured: ["alpha", "zeta"] });
    try {
      expect(announced.lines[1]).toBe(
        `Gateway API: http://127.0.0.1:2/api/v1  (token "alpha" for this session in ${sessionTokenPath("gateway", port)})`,
      );
      expect(announced.lines[2]).toMatch(/^MCP server: {2}http:\/\/127\.0\.0\.1:2\/mcp {2}\(the same bearer token/);
      expect(readSessionToken("gateway", "http://127.0.0.1:2")).toBe("alpha-token-0123456789");
      expect(announced.lines.join("\n")).not.toContain("token-0123456789");
    } finally {
      announced.cleanup();
    }
    expect(existsSync(sessionTokenPath("gateway", port))).toBe(false);
    const none = announceDevGateway("http://127.0.0.1:2", port, { generated: new Map(), configured: [] });
    expect(none.lines[1]).toContain("no tokens configured: add gateway.tokens to knclaw.yaml");
    expect(none.lines).toHaveLength(2);
  });
});
