import { describe, expect, it } from "vitest";
import type { ToolCompleted } from "../../eventing/catalog/index.ts";
import { generateSigningKey, parsePrivateKey } from "../../runtime/keys.ts";
import { ToolFailure } from "../../skills/runtime/tool-error.ts";
import { createApp } from "../../skills/time/app.ts";
import { createTimeHandlers } from "../../skills/time/handlers.ts";
import { roleKeys } from "../support/event-keys.ts";
import { postToolRequest, signedToolRequest } from "./support/call.ts";
import { toolContext } from "./support/context.ts";

const INSTANT = new Date("2026-03-29T00:30:00Z"); // half an hour before Europe/Berlin switches to summer time
const handlers = createTimeHandlers({ now: () => INSTANT });
const ctx = toolContext({ skill: "time" });

describe("time skill handlers", () => {
  it("tells the current time in UTC by default", async () => {
    expect(await handlers.now({}, ctx)).toEqual({
      utc: "2026-03-29T00:30:00.000Z",
      timeZone: "UTC",
      local: "2026-03-29 00:30:00",
      weekday: "Sunday",
      unixMs: INSTANT.getTime(),
    });
  });

  it("tells local time in a time zone, across a daylight-saving change", async () => {
    expect(await handlers.now({ timeZone: "Europe/Berlin" }, ctx)).toMatchObject({ local: "2026-03-29 01:30:00" });
    const afterSwitch = await handlers.convert({ time: "2026-03-29T01:30:00Z", timeZone: "Europe/Berlin" }, ctx);
    expect(afterSwitch).toMatchObject({ local: "2026-03-29 03:30:00", weekday: "Sunday" });
    const withOffset = await handlers.convert({ time: "2026-11-21T15:00:00+09:00", timeZone: "America/New_York" }, ctx);
    expect(withOffset).toMatchObject({ utc: "2026-11-21T06:00:00.000Z", local: "2026-11-21 01:00:00" });
  });

  it("refuses an unknown time zone as ValidationFailed", async () => {
    const error = await handlers.now({ timeZone: "Mars/Olympus_Mons" }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolFailure);
    expect((error as ToolFailure).errorClass).toBe("ValidationFailed");
  });
});

describe("time skill behind the runtime", () => {
  const key = generateSigningKey();
  const signing = parsePrivateKey(key.privateKeyPem);
  const app = createApp({
    KNCLAW_AGENT_KEYS: JSON.stringify({ assistant: key.publicKeyPem }),
    KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/time").privateKeyPem,
    NODE_ENV: "test",
  });

  async function call(args: unknown, tokenArgs: unknown = args): Promise<ToolCompleted> {
    const callId = `call-${Math.random().toString(36).slice(2)}`;
    const event = signedToolRequest(
      { runId: "run-1", callId, instance: "assistant", skill: "time", tool: "now", arguments: args },
      signing,
      tokenArgs,
    );
    return (await postToolRequest(app, event)).completed!;
  }

  it("answers a call whose capability token covers its exact arguments", async () => {
    const completed = await call({ timeZone: "Asia/Tokyo" });
    expect(completed.outcome).toMatchObject({ ok: true, result: { timeZone: "Asia/Tokyo" } });
  });

  it("refuses a call whose token was issued for other arguments", async () => {
    const completed = await call({ timeZone: "Asia/Tokyo" }, { timeZone: "UTC" });
    expect(completed.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied" } });
  });
});
