import { describe, expect, it } from "vitest";
import { devDeadLetterToken } from "../../../cli/commands/dlq.ts";
import { createSecretResolver, memoryScopeOf } from "../../../cli/dev/secrets.ts";
import { verifyMemoryToken } from "../../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";

/** How `knclaw dev` wires the deadletter function's secrets: least-privilege memory token, per-session API token. */
const deadletter: KnativeObject = {
  apiVersion: "serving.knative.dev/v1",
  kind: "Service",
  metadata: { name: "deadletter", namespace: "knclaw", labels: { "knclaw.dev/component": "deadletter" } },
};

describe("knclaw dev wiring of the deadletter function", () => {
  it("mints a memory token that opens dead-letter queues only", () => {
    expect(memoryScopeOf(deadletter)).toEqual({ kind: "deadletter" });
    const resolver = createSecretResolver({}, [deadletter]);
    const base = { secret: "knclaw-memory-tokens", namespace: "knclaw", service: deadletter };
    const secret = resolver.resolve({ ...base, key: "secret", envName: "KNCLAW_MEMORY_TOKEN_SECRET" })!;
    const token = resolver.resolve({ ...base, key: "deadletter", envName: "KNCLAW_MEMORY_TOKEN" })!;
    expect(verifyMemoryToken(secret, token)).toEqual({ kind: "deadletter" });
  });

  it("generates a random API token per session unless the environment names one", () => {
    const env: Record<string, string | undefined> = {};
    const first = devDeadLetterToken(env)!;
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(env.KNCLAW_DEADLETTER_TOKEN).toBe(first);
    expect(devDeadLetterToken({})).not.toBe(first);
    // The resolver hands it to the function's optional secretKeyRef.
    const resolved = createSecretResolver(env, [deadletter]).resolve({
      secret: "knclaw-deadletter",
      key: "api-token",
      namespace: "knclaw",
      envName: "KNCLAW_DEADLETTER_TOKEN",
      service: deadletter,
    });
    expect(resolved).toBe(first);
    const given = { KNCLAW_DEADLETTER_TOKEN: "mine-0123456789abcdef" };
    expect(devDeadLetterToken(given)).toBeUndefined();
    expect(given.KNCLAW_DEADLETTER_TOKEN).toBe("mine-0123456789abcdef");
    expect(devDeadLetterToken({ KNCLAW_DEADLETTER_API_TOKEN: "from-the-secret-name-0123" })).toBeUndefined();
  });
});
