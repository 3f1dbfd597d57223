import {
  ArmTimerRequest,
  type ArmTimerResponse,
  type DisarmTimerResponse,
  type Timer,
  type TimerResponse,
} from "../../../clients/memory/contract/timers.ts";
import { InstanceName, TimerId, TimerKind, TimerTarget } from "../../../eventing/catalog/shared.ts";
import { authorize } from "../http/auth.ts";
import { memoryError, notFound } from "../http/errors.ts";
import { readParam } from "../http/request.ts";
import { body, type MemoryApp, type MemoryContext, type RouteDeps } from "../http/routes.ts";
import type { StoredTimer, TimerKey, TimerStore } from "./store.ts";

const PATH = "/v1/instances/:instance/timers/:target/:kind/:id";

/**
 * The timer named by the path, once the caller may touch it: an agent's own timers are its instance token's (target
 * `agent`), the gateway's are the gateway token's (target `gateway`, any instance), the operator may touch all.
 */
function timerKeyOf(c: MemoryContext): TimerKey {
  const instance = readParam(c, "instance", InstanceName);
  const target = readParam(c, "target", TimerTarget);
  const key = { instance, target, kind: readParam(c, "kind", TimerKind), id: readParam(c, "id", TimerId) };
  const principal = c.get("principal");
  if (target === "agent") authorize(principal, "timers", instance);
  else if (principal.scope.kind !== "gateway") authorize(principal, "timers", undefined);
  return key;
}

function wire(timer: StoredTimer): Timer {
  const { instance, target, kind, id, dueAt, version, data } = timer;
  return {
    instance,
    target,
    kind,
    id,
    dueAt,
    ...(version !== undefined ? { version } : {}),
    ...(data !== undefined ? { data: data as Timer["data"] } : {}),
  };
}

export function timerRoutes(app: MemoryApp, timers: TimerStore, deps: RouteDeps): void {
  app.put(PATH, async (c) => {
    const key = timerKeyOf(c);
    const request = await body(c, deps, ArmTimerRequest);
    const timer: StoredTimer = { ...key, ...request };
    const result = await timers.arm(timer, deps.config.maxTimersPerInstance);
    if (result.outcome === "capped") {
      throw memoryError(409, "cap_exceeded", `an instance may have at most ${deps.config.maxTimersPerInstance} timers`);
    }
    const answer: ArmTimerResponse =
      result.outcome === "armed" ? { armed: true, timer: wire(timer) } : { armed: false, timer: wire(result.stored) };
    return c.json(answer);
  });

  app.get(PATH, async (c) => {
    const timer = await timers.get(timerKeyOf(c));
    if (timer === undefined) throw notFound("timer");
    const answer: TimerResponse = { timer: wire(timer) };
    return c.json(answer);
  });

  app.delete(PATH, async (c) => {
    const answer: DisarmTimerResponse = { disarmed: await timers.disarm(timerKeyOf(c)) };
    return c.json(answer);
  });
}
