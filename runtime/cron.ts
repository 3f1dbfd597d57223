/**
 * PingSource schedules exactly as Knative accepts them (pkg/apis/sources/v1/ping_validation.go): the webhook
 * refuses any schedule containing `@every`, prepends `CRON_TZ=<spec.timezone> ` when a timezone is set, and parses
 * the result with robfig/cron: five fields or six with a leading seconds field, `?` as `*`, month and weekday
 * names, ranges, lists and steps, the `@yearly`-style descriptors, and an optional `CRON_TZ=`/`TZ=` prefix.
 *
 * robfig's field grammar is checked here (croner is more lenient: it takes `L`, `W`, `#` and weekday 7); croner
 * then computes the next fire times, so a schedule that can never fire (`0 0 31 2 *`) is caught too.
 * `toCronerSchedule` gives the embedded PingSource scheduler the same reading of a schedule.
 */
import { Cron } from "croner";
import { checkTimezone } from "./timezone.ts";

interface CronProblem {
  /** `schedule` or `timezone`: the PingSource field Knative blames. */
  field: "schedule" | "timezone";
  rule: string;
  message: string;
}

export interface CronerSchedule {
  /** A pattern croner reads the way robfig does (5 or 6 fields, no `?`). */
  pattern: string;
  /** IANA zone, or undefined for UTC (Knative's adapter runs in UTC). */
  timezone: string | undefined;
  options: { mode: "5-or-6-parts"; sloppyRanges: true; domAndDow: false };
}

export type CronCheck =
  | { ok: true; schedule: CronerSchedule; neverFires: boolean; next: Date | undefined }
  | { ok: false; problems: CronProblem[] };

const DESCRIPTORS: Record<string, string> = {
  "@yearly": "0 0 0 1 1 *",
  "@annually": "0 0 0 1 1 *",
  "@monthly": "0 0 0 1 * *",
  "@weekly": "0 0 0 * * 0",
  "@daily": "0 0 0 * * *",
  "@midnight": "0 0 0 * * *",
  "@hourly": "0 0 * * * *",
};

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};
const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: Record<string, number>;
}

const SECONDS: FieldSpec = { name: "seconds", min: 0, max: 59 };
const FIELDS: FieldSpec[] = [
  { name: "minutes", min: 0, max: 59 },
  { name: "hours", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day of week", min: 0, max: 6, names: DAYS },
];

/** Check a PingSource `schedule` (+ optional `timezone`) the way Knative's webhook does. */
export function checkPingSchedule(schedule: string, timezone?: string): CronCheck {
  const problems: CronProblem[] = [];
  if (schedule.includes("@every")) {
    problems.push({ field: "schedule", rule: "cron-every", message: "unsupported descriptor @every" });
    return { ok: false, problems };
  }
  let zone: string | undefined;
  let zoneField: "schedule" | "timezone" = "timezone";
  let spec = schedule;
  if (timezone !== undefined && timezone !== "") {
    zone = timezone;
    if (/^(CRON_TZ|TZ)=/.test(schedule)) {
      problems.push({
        field: "schedule",
        rule: "cron-timezone-twice",
        message:
          "the schedule carries its own CRON_TZ=/TZ= prefix while timezone is set; Knative prepends CRON_TZ=<timezone>, " +
          "which makes the schedule unparsable: use one of them",
      });
      return { ok: false, problems };
    }
  } else if (/^(CRON_TZ|TZ)=/.test(spec)) {
    const space = spec.indexOf(" ");
    if (space < 0) {
      problems.push({
        field: "schedule",
        rule: "cron-syntax",
        message: "a CRON_TZ=/TZ= prefix must be followed by a schedule",
      });
      return { ok: false, problems };
    }
    zone = spec.slice(spec.indexOf("=") + 1, space);
    zoneField = "schedule";
    spec = spec.slice(space).trim();
  }
  if (zone !== undefined) {
    const tz = checkTimezone(zone);
    if (!tz.ok)
      problems.push({ field: zoneField, rule: "timezone", message: `provided bad location ${zone}: ${tz.message}` });
  }

  let pattern: string;
  if (spec.startsWith("@")) {
    const descriptor = DESCRIPTORS[spec];
    if (descriptor === undefined) {
      problems.push({ field: "schedule", rule: "cron-syntax", message: `unrecognized descriptor: ${spec}` });
      return { ok: false, problems };
    }
    pattern = descriptor;
  } else {
    const fields = spec.split(/\s+/).filter((f) => f !== "");
    if (fields.length === 0) {
      problems.push({ field: "schedule", rule: "cron-syntax", message: "empty spec string" });
      return { ok: false, problems };
    }
    if (fields.length < 5 || fields.length > 6) {
      problems.push({
        field: "schedule",
        rule: "cron-syntax",
        message: `expected 5 to 6 fields, found ${fields.length}: [${fields.join(" ")}]`,
      });
      return { ok: false, problems };
    }
    const specs = fields.length === 6 ? [SECONDS, ...FIELDS] : FIELDS;
    const normalized: string[] = [];
    for (let i = 0; i < fields.length; i++) {
      const result = normalizeField(fields[i]!, specs[i]!);
      if (typeof result === "string") normalized.push(result);
      else problems.push({ field: "schedule", rule: "cron-syntax", message: result.error });
    }
    pattern = (fields.length === 5 ? ["0", ...normalized] : normalized).join(" ");
  }
  if (problems.length > 0) return { ok: false, problems };

  const cronerSchedule: CronerSchedule = {
    pattern,
    timezone: zone,
    options: { mode: "5-or-6-parts", sloppyRanges: true, domAndDow: false },
  };
  let next: Date | undefined;
  try {
    const job = new Cron(pattern, { paused: true, timezone: zone, ...cronerSchedule.options });
    next = job.nextRun() ?? undefined;
    job.stop();
  } catch (error) {
    return { ok: false, problems: [{ field: "schedule", rule: "cron-syntax", message: (error as Error).message }] };
  }
  return { ok: true, schedule: cronerSchedule, neverFires: next === undefined, next };
}

/** The croner reading of a valid schedule; throws when Knative would refuse it. */
export function toCronerSchedule(schedule: string, timezone?: string): CronerSchedule {
  const check = checkPingSchedule(schedule, timezone);
  if (!check.ok) throw new Error(check.problems.map((p) => `${p.field}: ${p.message}`).join("; "));
  return check.schedule;
}

/** robfig's getField/getRange: rewrite names to numbers and `?` to `*`, or say why robfig refuses the field. */
function normalizeField(field: string, spec: FieldSpec): string | { error: string } {
  const out: string[] = [];
  for (const expr of field.split(",")) {
    const rangeAndStep = expr.split("/");
    if (rangeAndStep.length > 2) return { error: `too many slashes: ${expr}` };
    const lowAndHigh = rangeAndStep[0]!.split("-");
    if (lowAndHigh.length > 2) return { error: `too many hyphens: ${expr}` };
    let start: number;
    let end: number;
    let rangeText: string;
    if (lowAndHigh[0] === "*" || lowAndHigh[0] === "?") {
      if (lowAndHigh.length > 1) return { error: `too many hyphens: ${expr}` };
      start = spec.min;
      end = spec.max;
      rangeText = "*";
    } else {
      const low = parseIntOrName(lowAndHigh[0]!, spec);
      if (typeof low !== "number") return low;
      start = low;
      end = low;
      if (lowAndHigh.length === 2) {
        const high = parseIntOrName(lowAndHigh[1]!, spec);
        if (typeof high !== "number") return high;
        end = high;
      }
      rangeText = lowAndHigh.length === 2 ? `${start}-${end}` : `${start}`;
    }
    let stepText = "";
    if (rangeAndStep.length === 2) {
      const step = mustParseInt(rangeAndStep[1]!);
      if (typeof step !== "number") return step;
      if (step === 0) return { error: `step of range should be a positive number: ${expr}` };
      // robfig: "N/step" means N-max/step.
      if (lowAndHigh.length === 1 && rangeText !== "*") {
        end = spec.max;
        rangeText = `${start}-${end}`;
      }
      stepText = `/${step}`;
    }
    if (start < spec.min) return { error: `beginning of range (${start}) below minimum (${spec.min}): ${expr}` };
    if (end > spec.max) return { error: `end of range (${end}) above maximum (${spec.max}): ${expr}` };
    if (start > end) return { error: `beginning of range (${start}) beyond end of range (${end}): ${expr}` };
    out.push(`${rangeText}${stepText}`);
  }
  return out.join(",");
}

function parseIntOrName(text: string, spec: FieldSpec): number | { error: string } {
  const named = spec.names?.[text.toLowerCase()];
  if (named !== undefined) return named;
  return mustParseInt(text);
}

function mustParseInt(text: string): number | { error: string } {
  if (!/^\d+$/.test(text)) return { error: `failed to parse int from ${text}` };
  return Number(text);
}
