import type { Context, Hono } from "hono";
import type { z } from "zod";
import { InstanceName } from "../../../clients/memory/contract/fields.ts";
import type { MemoryConfig } from "../config.ts";
import { authorize, type MemoryEnv, type Permission } from "./auth.ts";
import { readJson, readParam } from "./request.ts";

/** What every route module gets beside its area's store. `now` is the one clock all decisions use (tests may replace it). */
export interface RouteDeps {
  config: MemoryConfig;
  now: () => number;
}

export type MemoryApp = Hono<MemoryEnv>;
export type MemoryContext = Context<MemoryEnv>;

/** The `:instance` of the path, once the caller is known to be allowed `permission` on it. */
export function instanceFor(c: MemoryContext, permission: Permission): string {
  const instance = readParam(c, "instance", InstanceName);
  authorize(c.get("principal"), permission, instance);
  return instance;
}

export function body<S extends z.ZodType>(
  c: MemoryContext,
  deps: RouteDeps,
  schema: S,
  optional = false,
): Promise<z.infer<S>> {
  return readJson(c.req.raw, schema, { maxBytes: deps.config.maxBodyBytes, optional });
}

/** JSON assembled by hand (session windows embed stored JSON without parsing it again). */
export function rawJson(text: string, status: 200 | 201 = 200): Response {
  return new Response(text, { status, headers: { "content-type": "application/json" } });
}
