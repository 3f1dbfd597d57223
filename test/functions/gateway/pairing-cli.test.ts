import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { decidePairing, listPairing, registerPairingCommand } from "../../../cli/commands/pairing.ts";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import { type GatewayHarness, startGateway, TOKEN } from "./support/harness.ts";

let h: GatewayHarness;
let adapter: MemoryClient;

beforeAll(async () => {
  h = await startGateway();
  adapter = new MemoryClient({
    baseUrl: h.memory.url,
    token: mintMemoryToken("memory-secret-for-gateway-tests-0123", { kind: "channel", name: "telegram" }),
  });
});
afterAll(async () => {
  await h.stop();
});

async function pend(instance: string, sender: string): Promise<string> {
  const answer = await adapter.requestPairing(instance, { channel: "telegram", sender, displayName: "Ada" });
  if (answer.status !== "pending") throw new Error("expected pending");
  return answer.code;
}

describe("knclaw pairing", () => {
  it("lists pending requests across instances and approves a code typed loosely, finding its instance", async () => {
    const code = await pend("dev", "1001");
    const options = { url: h.url, env: { KNCLAW_GATEWAY_TOKEN: TOKEN } };
    expect(await listPairing(options)).toEqual(
      expect.arrayContaining([expect.objectContaining({ code, instance: "dev", channel: "telegram", sender: "1001" })]),
    );
    const result = await decidePairing("approve", `${code.slice(0, 4).toLowerCase()} ${code.slice(4)}`, options);
    expect(result).toMatchObject({ instance: "dev", status: "approved", sender: "1001" });
    expect(await adapter.isApproved("dev", { channel: "telegram", sender: "1001" })).toBe(true);
  });

  it("denies through the commander command with the token from a file, and reports errors plainly", async () => {
    const code = await pend("ops", "1002");
    const dir = mkdtempSync(join(tmpdir(), "knclaw-pairing-"));
    writeFileSync(join(dir, "token"), `${TOKEN}\n`);
    const program = new Command("knclaw").exitOverride();
    registerPairingCommand(program);
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      await program.parseAsync(
        ["pairing", "deny", code, "--url", h.url, "--instance", "ops", "--token-file", join(dir, "token")],
        { from: "user" },
      );
      expect(out.mock.calls.map((c) => String(c[0])).join("")).toContain("denied: telegram 1002 may not talk to ops");
    } finally {
      out.mockRestore();
    }
    expect(await adapter.isApproved("ops", { channel: "telegram", sender: "1002" })).toBe(false);
    await expect(
      decidePairing("approve", "ABCDEFGH", { url: h.url, env: { KNCLAW_GATEWAY_TOKEN: TOKEN } }),
    ).rejects.toThrow(/no pending pairing request has code ABCDEFGH/);
    await expect(
      decidePairing("approve", "not-a-code!", { url: h.url, env: { KNCLAW_GATEWAY_TOKEN: TOKEN } }),
    ).rejects.toThrow(/is not a pairing code/);
    await expect(listPairing({ url: h.url, env: {} })).rejects.toThrow(/KNCLAW_GATEWAY_TOKEN/);
    await expect(listPairing({ url: h.url, env: { KNCLAW_GATEWAY_TOKEN: "wrong-token-wrong-token" } })).rejects.toThrow(
      /401/,
    );
  });
});
