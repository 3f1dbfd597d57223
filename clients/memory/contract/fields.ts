import { z } from "zod";

/**
 * Field types the areas of the memory service's wire contract share (functions/memory/README.md describes the
 * routes). Request schemas are strict so that a misspelt field is a 400 with its path instead of a silently ignored
 * option; response schemas document what the service answers and let tests check it.
 */

export const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a DNS label: lowercase letters, digits and '-'");

/** An agent instance; also the hash tag of all of its keys. */
export const InstanceName = dnsLabel;

/** Printable ASCII without spaces: safe inside Redis keys and URL path segments (once percent-encoded). */
export const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");

/** Free text that ends up in keys or logs: anything but control characters. */
export const visible = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => ![...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), {
      message: "must not contain control characters",
    });

export const slug = (max: number) =>
  z.string().regex(new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${max - 1}}$`), "letters, digits, '.', '_' and '-'");

export const RunId = slug(128);
/** A person id (what identity links resolve to) or any stable user id notes are kept for. */
export const UserId = visible(300);
/** Client-chosen ids that make a retried request harmless. */
export const IdempotencyKey = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "letters, digits, '_' and '-'");

export const DAY_MS = 86_400_000;
export const Millis = (max: number) => z.int().min(1).max(max);
export const TimestampMs = z.int().min(0);
export const Version = z.int().min(1);
export const JsonObject = z.record(z.string(), z.json());

/** The query of a paged listing. */
export const ListQuery = z.strictObject({
  limit: z.coerce.number().pipe(z.int().min(1).max(200)).optional(),
  cursor: z.string().min(1).max(1024).optional(),
});
