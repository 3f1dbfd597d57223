import { describe, expect, it } from "vitest";
import { PairingRecord, PairingResponse, Person } from "../../../clients/memory/contract/people.ts";
import { freshInstance, instanceScope, OPERATOR } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

const CHANNEL: { kind: "channel"; name: string } = { kind: "channel", name: "slack" };
const slack = (sender: string) => ({ channel: "slack", sender });
const telegram = (sender: string) => ({ channel: "telegram", sender });
const sorted = (person: Person) => person.identities.map((i) => `${i.channel}:${i.sender}`).sort();

describe.each(TARGETS)("identities and pairing on $name", (target) => {
  const suite = useTarget(target);

  it("joins identities into one person, merging groups, and detaches them again", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const client = h.client(CHANNEL);
    expect(await client.getPerson(instance, slack("U1"))).toEqual({ person: "slack:U1", identities: [slack("U1")] });
    const joined = Person.parse(await client.linkIdentities(instance, [slack("U1"), telegram("77")]));
    expect(joined.person).toBe("slack:U1");
    expect(sorted(joined)).toEqual(["slack:U1", "telegram:77"]);
    expect((await client.getPerson(instance, telegram("77"))).person).toBe("slack:U1");
    // A second group, then a link across the groups merges them under the first one found.
    await client.linkIdentities(instance, [
      { channel: "discord", sender: "d:9" },
      { channel: "whatsapp", sender: "+49" },
    ]);
    const merged = await client.linkIdentities(instance, [telegram("77"), { channel: "whatsapp", sender: "+49" }]);
    expect(merged.person).toBe("slack:U1");
    expect(sorted(merged)).toEqual(["discord:d:9", "slack:U1", "telegram:77", "whatsapp:+49"]);
    expect((await client.getPerson(instance, { channel: "discord", sender: "d:9" })).person).toBe("slack:U1");
    // Linking again is harmless.
    expect(sorted(await client.linkIdentities(instance, [slack("U1"), telegram("77")]))).toHaveLength(4);
    // Detaching the identity the person is named after: it keeps its name, the others regroup under another.
    expect(await client.unlinkIdentity(instance, slack("U1"))).toEqual({
      person: "slack:U1",
      identities: [slack("U1")],
    });
    expect(await client.getPerson(instance, slack("U1"))).toEqual({ person: "slack:U1", identities: [slack("U1")] });
    const rest = await client.getPerson(instance, telegram("77"));
    expect(rest.person).not.toBe("slack:U1");
    expect(sorted(rest)).toEqual(["discord:d:9", "telegram:77", "whatsapp:+49"]);
    // Down to one member, a group dissolves: each identity is its own person again.
    await client.unlinkIdentity(instance, telegram("77"));
    await client.unlinkIdentity(instance, { channel: "whatsapp", sender: "+49" });
    expect(await client.getPerson(instance, { channel: "discord", sender: "d:9" })).toEqual({
      person: "discord:d:9",
      identities: [{ channel: "discord", sender: "d:9" }],
    });
  });

  it("pairs an unknown sender with a short code that an operator approves", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const channel = h.client(CHANNEL);
    const requested = PairingResponse.parse(
      await channel.requestPairing(instance, { channel: "telegram", sender: "4200000001", displayName: "Ada" }),
    );
    if (requested.status !== "pending") throw new Error("expected a pending pairing");
    expect(requested.code).toMatch(/^[A-HJ-NP-Z2-9]{8}$/);
    expect(requested.created).toBe(true);
    // Asking again while pending answers the same code.
    const again = await channel.requestPairing(instance, { channel: "telegram", sender: "4200000001" });
    expect(again).toEqual({ ...requested, created: false });
    const pending = await h.client(OPERATOR).listPairing(instance);
    expect(pending.map((p) => PairingRecord.parse(p))).toEqual([
      expect.objectContaining({
        code: requested.code,
        channel: "telegram",
        sender: "4200000001",
        displayName: "Ada",
        status: "pending",
      }),
    ]);
    expect(await channel.isApproved(instance, telegram("4200000001"))).toBe(false);
    // People type codes in lower case with a dash.
    const typed = `${requested.code.slice(0, 4).toLowerCase()}-${requested.code.slice(4)}`;
    const approved = await h.client(OPERATOR).approvePairing(instance, typed, "admin@example.com");
    expect(approved).toMatchObject({ code: requested.code, status: "approved", decidedBy: "admin@example.com" });
    expect(await channel.isApproved(instance, telegram("4200000001"))).toBe(true);
    expect(await h.client(OPERATOR).listPairing(instance)).toEqual([]);
    expect(await channel.requestPairing(instance, { channel: "telegram", sender: "4200000001" })).toEqual({
      status: "approved",
    });
    // Approving twice is harmless; contradicting a decision is a conflict.
    expect((await h.client(OPERATOR).approvePairing(instance, requested.code)).status).toBe("approved");
    await expect(h.client(OPERATOR).denyPairing(instance, requested.code)).rejects.toMatchObject({ status: 409 });
    await expect(h.client(OPERATOR).approvePairing(instance, "ZZZZZZZZ")).rejects.toMatchObject({ status: 404 });
    await expect(h.client(OPERATOR).approvePairing(instance, "bad!")).rejects.toMatchObject({ status: 400 });
    // Approval is per instance.
    expect(await channel.isApproved(freshInstance(), telegram("4200000001"))).toBe(false);
  });

  it("denies a pairing, lets it expire, and caps pending requests", async () => {
    const { h, clock } = suite();
    const instance = freshInstance();
    const channel = h.client(CHANNEL);
    const codes: string[] = [];
    for (const sender of ["a", "b", "c", "d"]) {
      const answer = await channel.requestPairing(instance, { channel: "slack", sender, ttlMs: 60_000 });
      if (answer.status !== "pending") throw new Error("expected pending");
      codes.push(answer.code);
    }
    await expect(channel.requestPairing(instance, { channel: "slack", sender: "e" })).rejects.toMatchObject({
      status: 429,
      code: "too_many_pending",
    });
    expect(await channel.denyPairing(instance, codes[0]!)).toMatchObject({
      status: "denied",
      decidedBy: "channel:slack",
    });
    expect(await channel.isApproved(instance, slack("a"))).toBe(false);
    expect((await channel.requestPairing(instance, { channel: "slack", sender: "e" })).status).toBe("pending");
    clock.advance(61_000);
    expect(await channel.listPairing(instance)).toEqual(
      expect.arrayContaining([expect.objectContaining({ sender: "e" })]),
    );
    expect((await channel.listPairing(instance)).map((p) => p.sender)).toEqual(["e"]);
    await expect(channel.approvePairing(instance, codes[1]!)).rejects.toMatchObject({ status: 404 });
    // Allow-lists can approve directly and revoke.
    await h.client(OPERATOR).setApproved(instance, slack("z"), true);
    expect(await channel.isApproved(instance, slack("z"))).toBe(true);
    await h.client(OPERATOR).setApproved(instance, slack("z"), false);
    expect(await channel.isApproved(instance, slack("z"))).toBe(false);
    // Pairing is not for the notes scope; the gateway may (operators approve codes through its API).
    await expect(h.client({ kind: "notes" }).listPairing(instance)).rejects.toMatchObject({ status: 403 });
    await expect(h.client({ kind: "gateway" }).listPairing(instance)).resolves.toEqual(expect.any(Array));
    await expect(h.client(instanceScope(instance)).listPairing(instance)).resolves.toEqual(expect.any(Array));
  });
});
