import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import { authenticate, type MemoryEnv } from "../../../functions/memory/http/auth.ts";
import { ApiError, errorResponse } from "../../../runtime/api-error.ts";

const SECRET = "auth-test-secret-0123456789abcdef";
const OPERATOR = "operator-token-0123456789abcdef";

/** The authentication middleware alone: answers who the caller is, or the error the service would answer. */
function appWith(secret: string, operatorToken?: string) {
  const app = new Hono<MemoryEnv>();
  app.use("*", authenticate(secret, operatorToken));
  app.get("/whoami", (c) => {
    const principal = c.get("principal");
    return c.json({ label: principal.label, scope: principal.scope, frozen: Object.isFrozen(principal) });
  });
  app.onError((error) => (error instanceof ApiError ? errorResponse(error) : new Response("boom", { status: 500 })));
  return (token: string) => app.request("/whoami", { headers: { authorization: `Bearer ${token}` } });
}

describe("bearer authentication of the memory service", () => {
  it("still refuses tampered and foreign tokens once the genuine one was accepted", async () => {
    const call = appWith(SECRET);
    const valid = mintMemoryToken(SECRET, { kind: "instance", instance: "alpha" });
    expect((await call(valid)).status).toBe(200);
    const [version, kind, , mac] = valid.split(".") as [string, string, string, string];
    const lastChar = mac.at(-1) === "A" ? "B" : "A";
    for (const bad of [
      `${valid.slice(0, -1)}${lastChar}`,
      [version, kind, "beta", mac].join("."),
      [version, "operator", "alpha", mac].join("."),
      mintMemoryToken("another-secret-of-enough-length", { kind: "instance", instance: "alpha" }),
      `${valid}x`,
    ]) {
      expect((await call(bad)).status).toBe(401);
    }
    expect((await call(valid)).status).toBe(200);
    // What one service accepted says nothing to a service with another secret.
    expect((await appWith("a-different-secret-0123456789")(valid)).status).toBe(401);
  });

  it("answers each token's own principal, also past the number of tokens it remembers", async () => {
    const call = appWith(SECRET, OPERATOR);
    const instances = Array.from({ length: 1100 }, (_, i) => `inst-${i}`);
    const tokens = instances.map((instance) => mintMemoryToken(SECRET, { kind: "instance", instance }));
    for (const round of [0, 1]) {
      for (let i = 0; i < tokens.length; i += round === 0 ? 1 : 97) {
        const response = await call(tokens[i]!);
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({
          label: `instance:${instances[i]}`,
          scope: { kind: "instance", instance: instances[i] },
          frozen: true,
        });
      }
    }
    const operator = await call(OPERATOR);
    expect(await operator.json()).toEqual({ label: "operator", scope: { kind: "operator" }, frozen: true });
    expect((await call(`${OPERATOR}0`)).status).toBe(401);
    expect((await call(OPERATOR)).status).toBe(200);
  });
});
