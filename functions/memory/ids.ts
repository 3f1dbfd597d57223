import { randomBytes } from "node:crypto";

/** A fresh id for a run or note the caller did not name: a kind prefix and 96 random bits (URL-safe). */
export function newId(prefix: "run" | "note"): string {
  return `${prefix}_${randomBytes(12).toString("base64url")}`;
}
