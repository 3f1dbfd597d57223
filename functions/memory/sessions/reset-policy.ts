import type { ResetPolicy } from "../../../clients/memory/contract/sessions.ts";

/**
 * A session is over when its last append happened before this instant (ms since epoch; 0 = never over). The decision
 * itself happens atomically in the backend, which compares the session's last activity with this threshold, so two
 * concurrent appends cannot both start a new generation.
 */
export function resetThreshold(policy: ResetPolicy | undefined, now: number): number {
  if (!policy) return 0;
  let threshold = 0;
  if (policy.idleMs !== undefined) threshold = Math.max(threshold, now - policy.idleMs);
  if (policy.daily) threshold = Math.max(threshold, lastDailyBoundary(now, policy.daily.hour, policy.daily.timeZone));
  return threshold;
}

/**
 * The latest instant at or before `now` when the wall clock in `timeZone` read `hour`:00. On a day where that hour
 * does not exist (spring forward), the boundary is the first instant after the gap.
 */
export function lastDailyBoundary(now: number, hour: number, timeZone: string): number {
  const today = localDate(now, timeZone);
  const candidate = zonedTime(today.year, today.month, today.day, hour, timeZone);
  if (candidate <= now) return candidate;
  const yesterday = new Date(Date.UTC(today.year, today.month - 1, today.day - 1));
  return zonedTime(yesterday.getUTCFullYear(), yesterday.getUTCMonth() + 1, yesterday.getUTCDate(), hour, timeZone);
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  return format;
}

function localParts(instant: number, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

function localDate(instant: number, timeZone: string): { year: number; month: number; day: number } {
  const { year, month, day } = localParts(instant, timeZone);
  return { year, month, day };
}

/** What the wall clock in `timeZone` shows at `instant`, read as if it were UTC. */
function wallClock(instant: number, timeZone: string): number {
  const p = localParts(instant, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

/**
 * The first instant the wall clock in `timeZone` shows year-month-day hour:00:00. Offsets lie within -12h..+14h, so
 * the offsets in force half a day around that wall time give every candidate; when none shows exactly that time (the
 * hour was skipped by a DST change) the first instant after the gap is the boundary.
 */
function zonedTime(year: number, month: number, day: number, hour: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour);
  const probes = [wall - 14 * HOUR_MS, wall, wall + 12 * HOUR_MS];
  const candidates = [...new Set(probes.map((probe) => wall - (wallClock(probe, timeZone) - probe)))].sort(
    (a, b) => a - b,
  );
  const exact = candidates.find((instant) => wallClock(instant, timeZone) === wall);
  if (exact !== undefined) return exact;
  return candidates.find((instant) => wallClock(instant, timeZone) > wall) ?? wall;
}

const HOUR_MS = 3_600_000;
