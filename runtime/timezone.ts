/**
 * IANA time zone names as Go's time.LoadLocation takes them (Knative loads PingSource zones that way).
 * Intl knows the same tz database; Go is case-sensitive where Intl is not, so a name that only matches
 * in another case is refused with the spelling that would work.
 */

export type TimezoneCheck = { ok: true } | { ok: false; message: string };

export function checkTimezone(name: string): TimezoneCheck {
  if (name === "") return { ok: false, message: "empty time zone name" };
  // Go resolves "Local" to the node's zone: a schedule would then depend on where the adapter runs.
  if (name === "Local")
    return { ok: false, message: `"Local" depends on the node's zone: name an IANA zone such as "UTC"` };
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return {
      ok: false,
      message: `unknown time zone ${JSON.stringify(name)} (expected an IANA name such as "Europe/Paris")`,
    };
  }
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) {
    return { ok: false, message: `time zone names are case-sensitive: use ${JSON.stringify(resolved)}` };
  }
  if (/^[+-]\d/.test(name)) return { ok: false, message: `an offset is not a time zone name: use an IANA name` };
  return { ok: true };
}
