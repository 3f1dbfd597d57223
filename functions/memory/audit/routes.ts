import {
  AppendAuditRequest,
  type AppendAuditResponse,
  ReadAuditQuery,
  type ReadAuditResponse,
} from "../../../clients/memory/contract/audit.ts";
import { readQuery } from "../http/request.ts";
import { body, instanceFor, type MemoryApp, type RouteDeps } from "../http/routes.ts";
import type { AuditStore } from "./store.ts";

export function auditRoutes(app: MemoryApp, audit: AuditStore, deps: RouteDeps): void {
  app.post("/v1/instances/:instance/audit", async (c) => {
    const instance = instanceFor(c, "audit:write");
    const request = await body(c, deps, AppendAuditRequest);
    const by = c.get("principal").label;
    const ids = await audit.append(instance, {
      entries: request.entries.map((entry) => ({
        type: entry.type,
        ...(entry.runId === undefined ? {} : { runId: entry.runId }),
        by,
        data: entry.data ?? {},
      })),
      maxLength: deps.config.auditMaxLength,
      now: deps.now(),
      ...(request.batchKey === undefined ? {} : { batchKey: request.batchKey }),
    });
    const answer: AppendAuditResponse = { ids };
    return c.json(answer, 201);
  });

  app.get("/v1/instances/:instance/audit", async (c) => {
    const instance = instanceFor(c, "audit:read");
    const query = readQuery(c, ReadAuditQuery);
    const limit = query.limit ?? 100;
    const order = query.order ?? "asc";
    const entries = await audit.read(instance, {
      limit,
      order,
      ...(query.after === undefined ? {} : { after: query.after }),
      ...(query.before === undefined ? {} : { before: query.before }),
    });
    const answer: ReadAuditResponse = {
      entries,
      next: entries.length === limit ? entries[entries.length - 1]!.id : null,
    };
    return c.json(answer);
  });
}
