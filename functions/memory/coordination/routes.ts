import {
  AcquireLockRequest,
  ConsumeBudgetRequest,
  DedupKey,
  DedupRequest,
  type DeleteValueResponse,
  NamespaceName,
  PutValueRequest,
  ReleaseLockRequest,
  RenewLockRequest,
  ResourceName,
} from "../../../clients/memory/contract/coordination.ts";
import { authorizeNamespace } from "../http/auth.ts";
import { notFound } from "../http/errors.ts";
import { readParam } from "../http/request.ts";
import { body, instanceFor, type MemoryApp, type MemoryContext, type RouteDeps } from "../http/routes.ts";
import type { CoordinationStore, Space } from "./store.ts";

/** Dedup and key/values exist in two key spaces: an instance's, and component namespaces (e.g. `slack`). */
const SPACES: Array<{ base: string; resolve: (c: MemoryContext) => Space }> = [
  {
    base: "/v1/instances/:instance",
    resolve: (c) => ({ kind: "instance", name: instanceFor(c, "values") }),
  },
  {
    base: "/v1/namespaces/:namespace",
    resolve: (c) => {
      const name = readParam(c, "namespace", NamespaceName);
      authorizeNamespace(c.get("principal"), name);
      return { kind: "namespace", name };
    },
  },
];

function resourceOf(c: MemoryContext): string {
  return readParam(c, "name", ResourceName);
}

export function coordinationRoutes(app: MemoryApp, coordination: CoordinationStore, deps: RouteDeps): void {
  for (const { base, resolve } of SPACES) {
    app.post(`${base}/dedup`, async (c) => {
      const space = resolve(c);
      const request = await body(c, deps, DedupRequest);
      return c.json(await coordination.claim(space, { ...request, now: deps.now() }));
    });

    app.get(`${base}/values/:key`, async (c) => {
      const space = resolve(c);
      const value = await coordination.getValue(space, readParam(c, "key", DedupKey), deps.now());
      if (!value) throw notFound("value");
      return c.json(value);
    });

    app.put(`${base}/values/:key`, async (c) => {
      const space = resolve(c);
      const key = readParam(c, "key", DedupKey);
      const request = await body(c, deps, PutValueRequest);
      const now = deps.now();
      await coordination.putValue(space, key, request.value, request.ttlMs, now);
      return c.json({ value: request.value, expiresAt: now + request.ttlMs });
    });

    app.delete(`${base}/values/:key`, async (c) => {
      const space = resolve(c);
      const answer: DeleteValueResponse = {
        deleted: await coordination.deleteValue(space, readParam(c, "key", DedupKey), deps.now()),
      };
      return c.json(answer);
    });
  }

  app.post("/v1/instances/:instance/budgets/:name/consume", async (c) => {
    const instance = instanceFor(c, "budgets");
    const name = resourceOf(c);
    const request = await body(c, deps, ConsumeBudgetRequest);
    return c.json(await coordination.consumeBudget(instance, name, { ...request, now: deps.now() }));
  });

  app.get("/v1/instances/:instance/locks/:name", async (c) => {
    const instance = instanceFor(c, "locks");
    return c.json(await coordination.getLock(instance, resourceOf(c), deps.now()));
  });

  app.post("/v1/instances/:instance/locks/:name/acquire", async (c) => {
    const instance = instanceFor(c, "locks");
    const name = resourceOf(c);
    const request = await body(c, deps, AcquireLockRequest);
    return c.json(await coordination.acquireLock(instance, name, { ...request, now: deps.now() }));
  });

  app.post("/v1/instances/:instance/locks/:name/renew", async (c) => {
    const instance = instanceFor(c, "locks");
    const name = resourceOf(c);
    const request = await body(c, deps, RenewLockRequest);
    return c.json(await coordination.renewLock(instance, name, { ...request, now: deps.now() }));
  });

  app.post("/v1/instances/:instance/locks/:name/release", async (c) => {
    const instance = instanceFor(c, "locks");
    const name = resourceOf(c);
    const request = await body(c, deps, ReleaseLockRequest);
    return c.json(await coordination.releaseLock(instance, name, { ...request, now: deps.now() }));
  });
}
