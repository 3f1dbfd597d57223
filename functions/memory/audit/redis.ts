import type { AuditEntry } from "../../../../clients/memory/schemas.ts";
import type { AuditAppend, AuditRange } from "../backend.ts";
import { guard, Script } from "./connection.ts";
import type { RedisContext } from "./context.ts";
import { APPEND_AUDIT } from "./lua/audit.ts";

const append = new Script(APPEND_AUDIT);

export async function appendAudit(ctx: RedisContext, instance: string, input: AuditAppend): Promise<string[]> {
  const joined = await append.run<string>(
    ctx.client,
    [ctx.keys.audit(instance), ctx.keys.auditBatch(instance, input.batchKey ?? "")],
    [input.batchKey ?? "", input.maxLength, ...input.entries.map((entry) => JSON.stringify(entry))],
  );
  return joined.split(" ");
}

export async function readAudit(ctx: RedisContext, instance: string, range: AuditRange): Promise<AuditEntry[]> {
  const key = ctx.keys.audit(instance);
  const low = range.after === undefined ? "-" : `(${range.after}`;
  const high = range.before === undefined ? "+" : `(${range.before}`;
  const rows = await guard(() =>
    range.order === "asc"
      ? ctx.client.xrange(key, low, high, "COUNT", range.limit)
      : ctx.client.xrevrange(key, high, low, "COUNT", range.limit),
  );
  return rows.map(([id, fields]) => {
    const entry = JSON.parse(fields[1] ?? "{}") as Omit<AuditEntry, "id" | "at">;
    return { id, at: Number(id.slice(0, id.indexOf("-"))), ...entry };
  });
}
