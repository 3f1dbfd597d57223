import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseChatText } from "../../../../functions/channels/toolkit/commands.ts";
import { measure, splitText } from "../../../../functions/channels/toolkit/split-text.ts";

describe("splitText", () => {
  it("leaves text within the limit alone", () => {
    expect(splitText("hello", { limit: 10 })).toEqual(["hello"]);
  });
  it("prefers paragraph, then line, then word boundaries", () => {
    expect(splitText("aaaa bbbb\n\ncccc dddd", { limit: 12 })).toEqual(["aaaa bbbb", "cccc dddd"]);
    expect(splitText("aaaa bbbb\ncccc dddd", { limit: 12 })).toEqual(["aaaa bbbb", "cccc dddd"]);
    expect(splitText("aaaa bbbb cccc dddd", { limit: 12 })).toEqual(["aaaa bbbb", "cccc dddd"]);
  });
  it("cuts inside a word only when there is no boundary", () => {
    expect(splitText("x".repeat(25), { limit: 10 })).toEqual(["x".repeat(10), "x".repeat(10), "x".repeat(5)]);
  });
  it("never splits a surrogate pair", () => {
    const parts = splitText("😀".repeat(10), { limit: 9 });
    for (const part of parts) expect(part.isWellFormed()).toBe(true);
    expect(parts.join("")).toBe("😀".repeat(10));
  });
  it("counts UTF-8 bytes when asked", () => {
    const parts = splitText("é".repeat(20), { limit: 10, unit: "utf8" });
    expect(parts).toEqual(["é".repeat(5), "é".repeat(5), "é".repeat(5), "é".repeat(5)]);
  });
  it("never caps the number of parts: however long the text, every part comes back", () => {
    expect(splitText("x".repeat(100), { limit: 10 })).toHaveLength(10);
  });
  it("property: every part fits, is well-formed, and no non-space character is lost", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 400 }),
        fc.integer({ min: 8, max: 60 }),
        fc.constantFrom("utf16" as const, "utf8" as const),
        (text, limit, unit) => {
          const parts = splitText(text, { limit, unit });
          for (const part of parts) {
            expect(measure(part, unit)).toBeLessThanOrEqual(limit);
            expect(part.isWellFormed()).toBe(true);
          }
          expect(parts.join("").replace(/\s/g, "")).toBe(text.replace(/\s/g, ""));
        },
      ),
    );
  });
});

describe("parseChatText", () => {
  it("recognises the four commands, with a Telegram bot suffix or a Slack mention", () => {
    expect(parseChatText("/new")).toEqual({ command: "new", text: "" });
    expect(parseChatText("/reset@my_bot")).toEqual({ command: "reset", text: "" });
    expect(parseChatText("<@U123ABC> /status")).toEqual({ command: "status", text: "" });
    expect(parseChatText("/stop now please")).toEqual({ command: "stop", text: "now please" });
  });
  it("leaves other text, unknown commands and commands mid-sentence alone", () => {
    expect(parseChatText("hello /reset")).toEqual({ text: "hello /reset" });
    expect(parseChatText("/resetting")).toEqual({ text: "/resetting" });
    expect(parseChatText("/help")).toEqual({ text: "/help" });
    expect(parseChatText("<@U1> hi")).toEqual({ text: "hi" });
  });
});
