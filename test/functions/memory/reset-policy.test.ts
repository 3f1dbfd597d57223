import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lastDailyBoundary, resetThreshold } from "../../../functions/memory/sessions/reset-policy.ts";

const at = (iso: string) => Date.parse(iso);

function wallHour(instant: number, timeZone: string): number {
  return Number(new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", hourCycle: "h23" }).format(instant));
}

describe("session reset policies", () => {
  it("combines idle and daily thresholds, latest first", () => {
    const now = at("2024-05-10T10:30:00Z");
    expect(resetThreshold(undefined, now)).toBe(0);
    expect(resetThreshold({}, now)).toBe(0);
    expect(resetThreshold({ idleMs: 60_000 }, now)).toBe(now - 60_000);
    expect(resetThreshold({ daily: { hour: 4, timeZone: "UTC" } }, now)).toBe(at("2024-05-10T04:00:00Z"));
    expect(resetThreshold({ idleMs: 3_600_000, daily: { hour: 4, timeZone: "UTC" } }, now)).toBe(now - 3_600_000);
    expect(resetThreshold({ idleMs: 86_400_000, daily: { hour: 4, timeZone: "UTC" } }, now)).toBe(
      at("2024-05-10T04:00:00Z"),
    );
  });

  it("finds the latest daily boundary in a time zone", () => {
    const now = at("2024-05-10T10:30:00Z");
    expect(lastDailyBoundary(now, 12, "UTC")).toBe(at("2024-05-09T12:00:00Z"));
    expect(lastDailyBoundary(now, 4, "Europe/Berlin")).toBe(at("2024-05-10T02:00:00Z"));
    expect(lastDailyBoundary(now, 4, "America/New_York")).toBe(at("2024-05-10T08:00:00Z"));
    expect(lastDailyBoundary(now, 4, "Asia/Kolkata")).toBe(at("2024-05-09T22:30:00Z"));
    expect(lastDailyBoundary(now, 0, "Pacific/Chatham")).toBe(at("2024-05-09T11:15:00Z"));
    // Exactly at the boundary, the boundary is now.
    expect(lastDailyBoundary(at("2024-05-10T04:00:00Z"), 4, "UTC")).toBe(at("2024-05-10T04:00:00Z"));
    // Across a month and year end.
    expect(lastDailyBoundary(at("2025-01-01T01:00:00Z"), 3, "UTC")).toBe(at("2024-12-31T03:00:00Z"));
  });

  it("handles the days daylight saving time changes", () => {
    // Berlin springs forward at 02:00 local (01:00Z) on 2024-03-31: 02:00 does not exist, the jump is the boundary.
    expect(lastDailyBoundary(at("2024-03-31T05:00:00Z"), 2, "Europe/Berlin")).toBe(at("2024-03-31T01:00:00Z"));
    expect(lastDailyBoundary(at("2024-03-31T05:00:00Z"), 4, "Europe/Berlin")).toBe(at("2024-03-31T02:00:00Z"));
    // Falls back on 2024-10-27: 02:00 happens twice; the first one counts.
    expect(lastDailyBoundary(at("2024-10-27T05:00:00Z"), 2, "Europe/Berlin")).toBe(at("2024-10-27T00:00:00Z"));
    expect(lastDailyBoundary(at("2024-10-27T05:00:00Z"), 4, "Europe/Berlin")).toBe(at("2024-10-27T03:00:00Z"));
  });

  it("always lies within the last day and shows the hour on the wall clock", () => {
    const zones = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Australia/Lord_Howe", "Asia/Kathmandu"];
    fc.assert(
      fc.property(
        fc.integer({ min: at("2020-01-01T00:00:00Z"), max: at("2030-01-01T00:00:00Z") }),
        fc.integer({ min: 0, max: 23 }),
        fc.constantFrom(...zones),
        (now, hour, zone) => {
          const boundary = lastDailyBoundary(now, hour, zone);
          expect(boundary).toBeLessThanOrEqual(now);
          expect(now - boundary).toBeLessThan(25 * 3_600_000);
          // On the rare day the hour is skipped, the boundary is the first instant after the gap.
          const shown = wallHour(boundary, zone);
          expect(shown === hour || shown === (hour + 1) % 24).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
