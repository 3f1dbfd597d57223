import type { AuditEntry } from "../../../clients/memory/contract/audit.ts";
import { guard, Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { APPEND_AUDIT } from "./lua.ts";
import type { AuditAppend, AuditRange, AuditStore } from "./store.ts";

const append = new Script(APPEND_AUDIT);

/** The audit log on Redis: one stream per instance (script in lua.ts). */
export class RedisAuditStore implements AuditStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async append(instance: string, input: AuditAppend): Promise<string[]> {
    const joined = await append.run<string>(
      this.#ctx.client,
      [this.#ctx.keys.audit(instance), this.#ctx.keys.auditBatch(instance, input.batchKey ?? "")],
      [input.batchKey ?? "", input.maxLength, ...input.entries.map((entry) => JSON.stringify(entry))],
    );
    return joined.split(" ");
  }

  async read(instance: string, range: AuditRange): Promise<AuditEntry[]> {
    const key = this.#ctx.keys.audit(instance);
    const low = range.after === undefined ? "-" : `(${range.after}`;
    const high = range.before === undefined ? "+" : `(${range.before}`;
    const rows = await guard(() =>
      range.order === "asc"
        ? this.#ctx.client.xrange(key, low, high, "COUNT", range.limit)
        : this.#ctx.client.xrevrange(key, high, low, "COUNT", range.limit),
    );
    return rows.map(([id, fields]) => {
      const entry = JSON.parse(fields[1] ?? "{}") as Omit<AuditEntry, "id" | "at">;
      return { id, at: Number(id.slice(0, id.indexOf("-"))), ...entry };
    });
  }
}
