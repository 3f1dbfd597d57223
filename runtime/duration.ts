/**
 * The two duration dialects Knative objects use.
 *
 * - ISO-8601 periods (`PT0.2S`, `PT1M`, `P1D`) in Eventing's DeliverySpec (`backoffDelay`, `timeout`,
 *   `retryAfterMax`), parsed by Knative with github.com/rickb777/date/period: an optional sign, `P`, then
 *   years/months/weeks/days, then `T` and hours/minutes/seconds, each a decimal number; `P0` is zero.
 * - Go durations (`30s`, `1m30s`, `500ms`) in Serving's autoscaling annotations, parsed by time.ParseDuration.
 */

export interface IsoDuration {
  negative: boolean;
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
  /** Approximate length in milliseconds, as period.DurationApprox computes it (365.2425-day years, 30.436875-day months). */
  ms: number;
}

const NUM = String.raw`(\d+(?:[.,]\d+)?)`;
const ISO_PERIOD = new RegExp(
  `^([-+])?P(?:${NUM}Y)?(?:${NUM}M)?(?:${NUM}W)?(?:${NUM}D)?(?:T(?:${NUM}H)?(?:${NUM}M)?(?:${NUM}S)?)?$`,
);

const DAY_MS = 86_400_000;

/** Parse an ISO-8601 period; undefined when it is not one. */
export function parseIsoDuration(text: string): IsoDuration | undefined {
  if (text === "P0") return zeroIso();
  const m = ISO_PERIOD.exec(text);
  if (!m) return undefined;
  const parts = m.slice(2).map((v) => (v === undefined ? undefined : Number(v.replace(",", "."))));
  // At least one component, and a `T` must be followed by one.
  if (parts.every((v) => v === undefined)) return undefined;
  const tIndex = text.indexOf("T");
  if (tIndex >= 0 && parts.slice(4).every((v) => v === undefined)) return undefined;
  const [years = 0, months = 0, weeks = 0, days = 0, hours = 0, minutes = 0, seconds = 0] = parts.map((v) => v ?? 0);
  const negative = m[1] === "-";
  const magnitude =
    years * 365.2425 * DAY_MS +
    months * 30.436875 * DAY_MS +
    (weeks * 7 + days) * DAY_MS +
    hours * 3_600_000 +
    minutes * 60_000 +
    seconds * 1000;
  return { negative, years, months, weeks, days, hours, minutes, seconds, ms: negative ? -magnitude : magnitude };
}

function zeroIso(): IsoDuration {
  return { negative: false, years: 0, months: 0, weeks: 0, days: 0, hours: 0, minutes: 0, seconds: 0, ms: 0 };
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parse a Go duration string (time.ParseDuration) to milliseconds; undefined when invalid. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  let total = 0;
  const part = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== "") {
    const m = part.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * (GO_UNITS[m[2]!] ?? Number.NaN);
    rest = rest.slice(m[0].length);
  }
  return Number.isFinite(total) ? sign * total : undefined;
}
