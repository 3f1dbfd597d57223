import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { characters, planAnswer } from "../../../../functions/channels/toolkit/long-answer.ts";
import { measure } from "../../../../functions/channels/toolkit/split-text.ts";

/** Words of varied length, numbered so that a lost or repeated stretch shows. */
function answer(chars: number): string {
  const words: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i++) {
    const word = `w${i}${"x".repeat(i % 7)}${i % 40 === 39 ? "\n\n" : " "}`;
    words.push(word);
    length += word.length;
  }
  return words.join("").slice(0, chars).trimEnd();
}

const nonSpace = (text: string) => text.replace(/\s/g, "");

describe("planAnswer", () => {
  it("an answer within the cap is all messages, no file", () => {
    const plan = planAnswer(answer(5000), { policy: { limit: 2000, maxParts: 10 }, canAttach: true });
    expect(plan.parts).toHaveLength(3);
    expect(plan.file).toBeUndefined();
  });

  it("past the cap, the rest goes as a file: messages and file together are the whole answer", () => {
    // The case: 24,000 characters on Discord (2000 per message, 10 messages).
    const text = answer(24_000);
    const plan = planAnswer(text, { policy: { limit: 2000, maxParts: 10 }, canAttach: true, runId: "run-7" });
    expect(plan.parts).toHaveLength(9);
    for (const part of plan.parts) expect(part.length).toBeLessThanOrEqual(2000);
    expect(plan.file).toBeDefined();
    expect(nonSpace(plan.parts.join("") + plan.file!.content)).toBe(nonSpace(text));
    expect(text.endsWith(plan.file!.content)).toBe(true);
    expect(plan.file!.filename).toBe("answer-run-7.txt");
    expect(plan.file!.caption).toBe(
      `The answer continues in this file (${characters(plan.file!.content).toLocaleString("en-US")} more characters).`,
    );
  });

  it("without uploads, the last message says how much was cut and where the whole answer is", () => {
    const text = answer(24_000);
    const plan = planAnswer(text, { policy: { limit: 2000, maxParts: 10 }, canAttach: false, runId: "run-7" });
    expect(plan.parts).toHaveLength(10);
    for (const part of plan.parts) expect(part.length).toBeLessThanOrEqual(2000);
    const last = plan.parts.at(-1)!;
    const match =
      /\[([\d,]+) more characters are not shown: this chat takes 10 messages per answer\. The whole answer is run run-7 in the operator console \(\/console\/runs\/run-7\)\.\]$/.exec(
        last,
      );
    expect(match).not.toBeNull();
    // Everything before the cut is shown, and the notice counts exactly what follows it.
    const shownLast = last.slice(0, -match![0].length);
    const cutAt = text.lastIndexOf(shownLast) + shownLast.length;
    expect(nonSpace(plan.parts.slice(0, -1).join("") + shownLast)).toBe(nonSpace(text.slice(0, cutAt)));
    expect(Number(match![1]!.replace(/,/g, ""))).toBe(characters(text.slice(cutAt).trim()));
  });

  it("buttons ride on the last message part, split to their lower limit", () => {
    const plan = planAnswer(answer(3000), {
      policy: { limit: 4096, maxParts: 10 },
      buttonLimit: 1024,
      canAttach: false,
    });
    expect(plan.parts.length).toBeGreaterThan(2);
    expect(plan.parts.at(-1)!.length).toBeLessThanOrEqual(1024);
  });

  it("property: every message fits, and messages plus file lose no non-space character", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 600 }),
        fc.integer({ min: 8, max: 60 }),
        fc.integer({ min: 2, max: 6 }),
        fc.constantFrom("utf16" as const, "utf8" as const),
        (text, limit, maxParts, unit) => {
          const plan = planAnswer(text, { policy: { limit, maxParts, unit }, canAttach: true });
          expect(plan.parts.length).toBeLessThanOrEqual(maxParts);
          for (const part of plan.parts) expect(measure(part, unit)).toBeLessThanOrEqual(limit);
          expect(nonSpace(plan.parts.join("") + (plan.file?.content ?? ""))).toBe(nonSpace(text));
        },
      ),
    );
  });
});
