import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayEnv } from "../../../functions/gateway/env.ts";
import { auth, type GatewayHarness, OTHER_TOKEN, startGateway } from "./support/harness.ts";

let h: GatewayHarness;

beforeAll(async () => {
  h = await startGateway({
    KNCLAW_GATEWAY_RATE_LIMIT: JSON.stringify({ requestsPerMinute: 1, burst: 3 }),
    KNCLAW_GATEWAY_CORS_ORIGINS: JSON.stringify(["https://console.example"]),
  });
});
afterAll(async () => {
  await h.stop();
});

describe("per-token rate limits", () => {
  it("answers 429 with Retry-After once a token spent its burst, without touching other tokens", async () => {
    const get = (token?: string) => fetch(`${h.url}/v1/models`, { headers: auth(token) });
    for (let i = 0; i < 3; i++) expect((await get()).status).toBe(200);
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // OpenAI's own words for it: type `requests`, code `rate_limit_exceeded` (what its 429s carry).
    expect(await limited.json()).toMatchObject({
      error: { type: "requests", code: "rate_limit_exceeded", param: null },
    });
    expect((await get(OTHER_TOKEN)).status).toBe(200);
  });

  it("is a RateLimitError to the official openai SDK, with OpenAI's type and code and the Retry-After", async () => {
    // Its own token (ci): the first test spent admin's burst.
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: OTHER_TOKEN, maxRetries: 0 });
    let error: unknown;
    for (let i = 0; i < 4 && error === undefined; i++) {
      await client.models.list().catch((caught: unknown) => {
        error = caught;
      });
    }
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const limited = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(limited.status).toBe(429);
    expect(limited.type).toBe("requests");
    expect(limited.code).toBe("rate_limit_exceeded");
    expect(Number(limited.headers?.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("a token's own limit (gateway.rateLimit.tokens)", () => {
  it("gives the named token its own burst while every other token keeps the default", async () => {
    const own = await startGateway({
      KNCLAW_GATEWAY_RATE_LIMIT: JSON.stringify({ requestsPerMinute: 1, burst: 2, tokens: { ci: { burst: 5 } } }),
    });
    try {
      const statuses = async (token: string | undefined, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await fetch(`${own.url}/v1/models`, { headers: auth(token) })).status);
        return out;
      };
      expect(await statuses(undefined, 3)).toEqual([200, 200, 429]);
      expect(await statuses(OTHER_TOKEN, 6)).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await own.stop();
    }
  });

  it("refuses a limit keyed by anything but a token name", () => {
    expect(() =>
      gatewayEnv.read(
        { KNCLAW_GATEWAY_RATE_LIMIT: JSON.stringify({ tokens: { "Not A Name": { burst: 1 } } }) },
        "rateLimit",
      ),
    ).toThrow(/KNCLAW_GATEWAY_RATE_LIMIT/);
  });
});

describe("CORS with a configured origin", () => {
  it("answers the preflight of a listed origin only, and exposes the run headers to it", async () => {
    const preflight = (origin: string) =>
      fetch(`${h.url}/api/v1/instances/ops/runs`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
      });
    const ok = await preflight("https://console.example");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://console.example");
    expect(ok.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    const other = await preflight("https://console.example.evil");
    expect(other.status).toBe(403);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
