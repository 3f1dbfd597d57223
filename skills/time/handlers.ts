import type { ToolHandlers } from "../package/tool.ts";
import { ToolFailure } from "../runtime/tool-error.ts";
import type { tools } from "./tools.ts";

/** `now` and `convert`, with the clock injectable so tests pin the instant. */
export interface TimeSkillOptions {
  now?: () => Date;
}

export function createTimeHandlers(options: TimeSkillOptions = {}): ToolHandlers<typeof tools> {
  const clock = options.now ?? (() => new Date());
  return {
    now: async (args) => describeInstant(clock(), args.timeZone ?? "UTC"),
    convert: async (args) => describeInstant(new Date(args.time), args.timeZone),
  };
}

function describeInstant(instant: Date, timeZone: string) {
  let local: string;
  let weekday: string;
  try {
    const format = (options: Intl.DateTimeFormatOptions) =>
      new Intl.DateTimeFormat("en-CA", { timeZone, ...options }).format(instant);
    local = `${format({ year: "numeric", month: "2-digit", day: "2-digit" })} ${format({
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    })}`;
    weekday = new Intl.DateTimeFormat("en-US", { timeZone, weekday: "long" }).format(instant);
  } catch {
    throw new ToolFailure("ValidationFailed", `unknown time zone "${timeZone}"`);
  }
  return { utc: instant.toISOString(), timeZone, local, weekday, unixMs: instant.getTime() };
}
