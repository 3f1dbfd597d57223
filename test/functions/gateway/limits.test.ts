import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
    expect(((await limited.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    expect((await get(OTHER_TOKEN)).status).toBe(200);
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
