import { describe, expect, it } from "vitest";
import { describeScope, mintMemoryToken, verifyMemoryToken } from "../../../clients/memory/tokens.ts";
import { base64Length, deadLetterId } from "../../../functions/memory/dead-letters/ids.ts";
import { DEAD_LETTER_SCAN_LIMIT, DeadLetterPager } from "../../../functions/memory/dead-letters/pager.ts";
import { listMember } from "../../../functions/memory/paging.ts";

const members = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    listMember(1_700_000_000_000 + count - i, `dl_${String(i).padStart(32, "0")}`),
  );

describe("dead-letter paging", () => {
  it("answers limit members and a cursor after the last one when more match", () => {
    const pager = new DeadLetterPager(3, {});
    const all = members(10);
    let offered = 0;
    for (const member of all) {
      offered += 1;
      if (!pager.offer(member, { instance: null, type: "t", destination: null })) break;
    }
    expect(offered).toBe(4);
    expect(pager.finish()).toEqual({ members: all.slice(0, 3), next: all[2] });
  });

  it("answers no cursor when the members ran out", () => {
    const pager = new DeadLetterPager(5, { type: "a" });
    const all = members(4);
    for (const [i, member] of all.entries()) {
      pager.offer(member, { instance: null, type: i % 2 ? "a" : "b", destination: null });
    }
    expect(pager.finish()).toEqual({ members: [all[1], all[3]], next: null });
  });

  it("stops a filtered scan at the scan limit with a cursor after the last member examined", () => {
    const pager = new DeadLetterPager(10, { instance: "rare" });
    const all = members(DEAD_LETTER_SCAN_LIMIT + 50);
    let offered = 0;
    for (const [i, member] of all.entries()) {
      offered += 1;
      const instance = i === 7 ? "rare" : "common";
      if (!pager.offer(member, { instance, type: "t", destination: null })) break;
    }
    expect(offered).toBe(DEAD_LETTER_SCAN_LIMIT);
    expect(pager.finish()).toEqual({ members: [all[7]], next: all[DEAD_LETTER_SCAN_LIMIT - 1] });
  });

  it("counts a member whose filter values are gone as examined, never as a match", () => {
    const pager = new DeadLetterPager(2, { type: "t" });
    const all = members(2);
    pager.offer(all[0]!, undefined);
    pager.offer(all[1]!, { instance: null, type: "t", destination: null });
    expect(pager.finish()).toEqual({ members: [all[1]], next: null });
  });
});

describe("dead-letter ids and tokens", () => {
  it("derives one id per source, event id and failed destination", () => {
    const id = deadLetterId("/src", "e1", "http://a/");
    expect(id).toMatch(/^dl_[A-Za-z0-9_-]{32}$/);
    expect(deadLetterId("/src", "e1", "http://a/")).toBe(id);
    const others = [
      deadLetterId("/src", "e1", "http://b/"),
      deadLetterId("/src", "e1", null),
      deadLetterId("/src", "e2", "http://a/"),
      deadLetterId("/other", "e1", "http://a/"),
      // No separator games: the parts are encoded as a JSON array.
      deadLetterId("/src\u0000e1", "", "http://a/"),
    ];
    expect(new Set([id, ...others]).size).toBe(6);
  });

  it("computes decoded lengths of padded base64", () => {
    for (const length of [0, 1, 2, 3, 4, 5, 100, 1001]) {
      expect(base64Length(Buffer.alloc(length, 1).toString("base64"))).toBe(length);
    }
  });

  it("mints and verifies the deadletter scope", () => {
    const secret = "unit-test-secret-0123456789";
    for (const scope of [{ kind: "deadletter" }, { kind: "deadletter", name: "deadletter" }] as const) {
      expect(verifyMemoryToken(secret, mintMemoryToken(secret, scope))).toEqual(scope);
    }
    expect(describeScope({ kind: "deadletter" })).toBe("deadletter");
    const [version, , subject, mac] = mintMemoryToken(secret, { kind: "deadletter" }).split(".");
    // The scope is part of what is signed: the deadletter token cannot be turned into an operator token.
    expect(verifyMemoryToken(secret, [version, "operator", subject, mac].join("."))).toBeUndefined();
  });
});
