import { z } from "zod";
import { defineTool } from "../package/tool.ts";

const timeZone = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_+\-/]+$/, "an IANA time zone name such as Europe/Berlin")
  .describe("An IANA time zone name, e.g. Europe/Berlin; UTC when omitted");

// Both tools only read the clock: neither mutates anything nor waits for a human.
const now = defineTool({
  name: "now",
  description: "The current date and time, in UTC and in the given time zone.",
  input: z.object({ timeZone: timeZone.optional() }).strict(),
  mutates: false,
  approval: false,
  groups: ["time:read"],
});

const convert = defineTool({
  name: "convert",
  description: "Convert an RFC 3339 timestamp into the local date and time of a time zone.",
  input: z
    .object({
      time: z.iso.datetime({ offset: true }).describe("An RFC 3339 timestamp, e.g. 2026-11-21T15:00:00Z"),
      timeZone,
    })
    .strict(),
  mutates: false,
  approval: false,
  groups: ["time:read"],
});

export const tools = [now, convert] as const;
