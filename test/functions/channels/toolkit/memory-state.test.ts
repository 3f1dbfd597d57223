import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryClient } from "../../../../clients/memory/client.ts";
import { runOnce } from "../../../../clients/memory/run-once.ts";
import { mintMemoryToken } from "../../../../clients/memory/tokens.ts";
import { decideAccess } from "../../../../functions/channels/toolkit/access.ts";
import { memoryChannelState } from "../../../../functions/channels/toolkit/memory-state.ts";
import type { ChannelState } from "../../../../functions/channels/toolkit/state.ts";
import { createApp } from "../../../../functions/memory/app.ts";
import { type Served, serve } from "../../../../runtime/serve.ts";

const SECRET = "memory-token-secret-for-channel-tests";
const OPERATOR = "operator-token-for-channel-tests";

/** The channel toolkit's state, on the real memory service: embedded backend and Redis. */
for (const backend of ["embedded", "redis"] as const) {
  describe(`channel state on the memory service (${backend})`, () => {
    let served: Served;
    let state: ChannelState;
    let operator: MemoryClient;

    beforeAll(async () => {
      const app = await createApp({
        KNCLAW_MEMORY_TOKEN_SECRET: SECRET,
        KNCLAW_MEMORY_OPERATOR_TOKEN: OPERATOR,
        KNCLAW_MEMORY_BACKEND: backend,
        ...(backend === "redis"
          ? { KNCLAW_REDIS_URL: "redis://127.0.0.1:6379", KNCLAW_REDIS_KEY_PREFIX: `test-channels-${randomUUID()}:` }
          : {}),
      });
      served = await serve(app, { port: 0, host: "127.0.0.1" });
      const channelToken = mintMemoryToken(SECRET, { kind: "channel", name: "slack" });
      state = memoryChannelState(new MemoryClient({ baseUrl: served.url, token: channelToken }), "channel-slack");
      operator = new MemoryClient({ baseUrl: served.url, token: OPERATOR });
    });
    afterAll(async () => {
      await served.shutdown();
    });

    it("set-if-absent, get, set, delete, with keys the service could not take as they are", async () => {
      const key = `in:slack:T1:C1:${randomUUID()}`;
      expect(await state.kv.setIfAbsent(key, "inflight:a", 60)).toBe(true);
      expect(await state.kv.setIfAbsent(key, "inflight:b", 60)).toBe(false);
      expect(await state.kv.get(key)).toBe("inflight:a");
      await state.kv.set(key, "done:x", 600);
      expect(await state.kv.get(key)).toBe("done:x");
      await state.kv.delete(key);
      expect(await state.kv.get(key)).toBeUndefined();
      const awkward = `out:slack:key with spaces and ünïcode ${"x".repeat(600)}#0`;
      expect(await state.kv.setIfAbsent(awkward, "v", 60)).toBe(true);
      expect(await state.kv.get(awkward)).toBe("v");
    });

    it("runs work once across attempts", async () => {
      const key = `once-${randomUUID()}`;
      let calls = 0;
      await runOnce(state.kv, key, { leaseSeconds: 30, keepSeconds: 300 }, async () => ++calls, String);
      const again = await runOnce(state.kv, key, { leaseSeconds: 30, keepSeconds: 300 }, async () => ++calls, String);
      expect(again).toEqual({ fresh: false, recorded: "1" });
      expect(calls).toBe(1);
    });

    it("pairs an unknown sender: the same code until approved, then allowed", async () => {
      const sender = {
        channel: "slack" as const,
        id: `U${randomUUID().slice(0, 8)}`,
        workspace: "T1",
        displayName: "Ada",
      };
      const access = { mode: "pairing" as const, allow: [], deny: [] };
      const first = await decideAccess(access, state.identities, "ops", sender);
      const second = await decideAccess(access, state.identities, "ops", sender);
      expect(first.kind).toBe("pairing");
      if (first.kind !== "pairing" || second.kind !== "pairing") throw new Error("expected pairing");
      expect(second.pairing.code).toBe(first.pairing.code);
      expect(first.pairing.code).toMatch(/^[A-HJ-NP-Z2-9]{8}$/);
      const pending = await operator.listPairing("ops");
      expect(pending.find((p) => p.code === first.pairing.code)).toMatchObject({
        channel: "slack",
        sender: `T1:${sender.id}`,
      });
      await operator.approvePairing("ops", first.pairing.code, "test-operator");
      expect(await state.identities.isPaired("ops", sender)).toBe(true);
      expect((await decideAccess(access, state.identities, "ops", sender)).kind).toBe("allowed");
      // Pairing is per instance.
      expect((await decideAccess(access, state.identities, "other", sender)).kind).toBe("pairing");
    });

    it("names the linked person of an identity, and none for an unlinked one", async () => {
      const slack = { channel: "slack" as const, id: `U${randomUUID().slice(0, 8)}`, workspace: "T1" };
      expect(await state.identities.lookup("ops", slack)).toEqual({});
      const person = await operator.linkIdentities("ops", [
        { channel: "slack", sender: `T1:${slack.id}` },
        { channel: "telegram", sender: "123456789012" },
      ]);
      expect(await state.identities.lookup("ops", slack)).toEqual({ person: person.person });
    });
  });
}
