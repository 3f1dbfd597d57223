import { MemoryClient } from "../../clients/memory/client.ts";
import { readEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import { BrokerClient } from "../../eventing/client/broker-client.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { receiveCloudEvents } from "../../eventing/cloudevent/receive.ts";
import { trustedProducersFromEnv } from "../../eventing/trust/env.ts";
import { eventSigner } from "../../eventing/trust/event-signature.ts";
import { verifyingTrust } from "../../eventing/trust/event-trust.ts";
import { agentRole } from "../../eventing/trust/roles.ts";
import { signingSink } from "../../eventing/trust/signing-sink.ts";
import { createFunctionApp } from "../../runtime/app.ts";
import type { FunctionApp, FunctionEnv } from "../../runtime/function.ts";
import { createHttpFetch } from "../../runtime/http/fetch.ts";
import { parsePrivateKey } from "../../runtime/keys.ts";
import { createLogger, type Logger } from "../../runtime/log.ts";
import { memoryClientSettings } from "../../runtime/platform-env.ts";
import { loadAgentConfig, type SkillResolver } from "./config.ts";
import { agentEnv } from "./env.ts";
import { AgentLoop, type AgentLoopDeps } from "./loop/agent-loop.ts";
import { RejectedEvent, RetryLater } from "./loop/errors.ts";
import type { LanguageModel } from "./providers/model.ts";
import { createLanguageModel } from "./providers/registry.ts";
import { type AgentStore, memoryStore } from "./store.ts";
import { ToolCatalog } from "./tools/catalog.ts";
import { SkillDiscovery } from "./tools/discovery.ts";
import { inSpan } from "./tracing.ts";

/**
 * The agent function (ARCHITECTURE.md, "The durable agent loop"): one ksvc per agent instance. Its Triggers deliver
 * message.received, run.requested, PingSource ticks, tool.completed, approval.decided and its runs' deadline timers
 * (timer.fired); each delivery is one durable step (see loop/agent-loop.ts). Answers: 200 when the step is done (or
 * the event was a duplicate), 400 for an event it can never take, 503 with Retry-After when the step should be
 * redelivered later (model rate limit, memory down).
 * Configuration is read from `env` only: env.ts declares the variables.
 */
export interface AgentAppOptions {
  /** Replace the configured provider (tests and benchmarks: an in-process model). */
  model?: LanguageModel;
  store?: AgentStore;
  emit?: (event: CloudEvent) => Promise<void>;
  fetch?: typeof fetch;
  now?: () => number;
  logger?: Logger;
  faults?: AgentLoopDeps["faults"];
}

export async function createApp(
  env: FunctionEnv,
  options: AgentAppOptions = {},
): Promise<FunctionApp & { loop: AgentLoop }> {
  const log = options.logger ?? createLogger(env, `agent-${env[agentEnv.names.instance] ?? "unknown"}`);
  // Rendered agents get their skills in KNCLAW_SKILL_CATALOG; reading skill folders (and the YAML parser that takes)
  // is only a fallback, loaded when a skill is missing from it.
  let resolver: SkillResolver | undefined;
  const config = await loadAgentConfig(env, async (name) => {
    const skills = await import("./skills.ts");
    resolver ??= skills.createSkillResolver(
      agentEnv.read(env, "skillFolders"),
      skills.processProbe(agentEnv.read(env, "configPathsSet")),
    );
    return resolver(name);
  });
  for (const missing of config.unavailableSkills) {
    log.error({ skill: missing.skill, reason: missing.reason }, "skill not available: its tools are not offered");
  }
  for (const skill of config.skills) {
    if (skill.withheld !== undefined) log.warn({ skill: skill.name, reason: skill.withheld }, "skill not offered");
  }
  const signingKey = parsePrivateKey(agentEnv.read(env, "signingKey"), agentEnv.names.signingKey);
  let model = options.model;
  if (model === undefined) {
    const resolved = await createLanguageModel({
      model: config.model,
      baseUrl: config.baseUrl,
      apiKey: config.apiKey,
      apiKeyName: agentEnv.names.apiKey,
      stream: config.settings.stream,
      includeUsage: config.settings.includeUsage,
      heartbeatToken: config.settings.heartbeat.okToken,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    model = resolved.model;
    if (resolved.missingCredential !== undefined) {
      log.error({ model: config.model }, `${resolved.missingCredential}: every run fails until it is set`);
    }
  }
  // Events and memory calls go through the platform's shared HTTP client unless a fetch is injected.
  const hops = options.fetch === undefined ? createHttpFetch() : undefined;
  const hopFetch = options.fetch ?? hops!;
  let store = options.store;
  if (store === undefined) {
    // The memory client brings its own node:http transport; an injected fetch replaces it (tests, knclaw dev).
    const memory = new MemoryClient({
      ...memoryClientSettings(env),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    store = memoryStore(memory, config.instance);
  }
  let emit = options.emit;
  if (emit === undefined) {
    // The broker acknowledges once an event is enqueued: a slow answer means overload, and re-sending after a short
    // timeout would only add load (and same-id duplicates), so an attempt gets longer than the client's default.
    const broker = BrokerClient.fromEnv(env, { fetch: hopFetch, timeoutMs: 30_000 });
    emit = (event) => broker.emit(event);
  }
  // Everything the instance emits is signed with its instance key, the one of its capability tokens.
  const sink = signingSink({ emit }, eventSigner(agentRole(config.instance), signingKey));
  const loop = new AgentLoop({
    config,
    store,
    model,
    emit: sink.emit,
    signingKey,
    log,
    ...(options.now ? { now: options.now } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
  });
  // Skills that discover their tools at run time (MCP servers) are read before a step, at most every 30 s.
  const discovery =
    Object.keys(config.skillEndpoints).length === 0
      ? undefined
      : new SkillDiscovery({ endpoints: config.skillEndpoints, fetch: hopFetch, log });
  let discoveredGeneration = 0;
  let withheldLogged = false;
  const discover = async () => {
    // The catalog is built at the first delivery, not at start (see AgentLoop.catalog); so is its report.
    if (!withheldLogged) {
      withheldLogged = true;
      logWithheld(loop.catalog, log);
    }
    if (discovery === undefined) return;
    const found = await discovery.current();
    if (discovery.generation === discoveredGeneration) return;
    discoveredGeneration = discovery.generation;
    loop.catalog = new ToolCatalog([...config.skills, ...found], config.settings.groups);
    logWithheld(loop.catalog, log);
  };

  // Every delivery but a PingSource tick must be signed by a producer the catalog allows (eventing/trust/).
  const trust = { trust: verifyingTrust(trustedProducersFromEnv(env), log) };
  // Ready once configured (no readiness check): a dependency check would add a memory round trip to every cold start,
  // and a step that cannot reach the memory service answers 503 anyway, so the broker retries it.
  const app = createFunctionApp({
    env,
    delivery: receiveCloudEvents(async (event) => {
      const type = event.attributes.type!;
      await discover();
      try {
        await inSpan(
          `knclaw.agent ${type.replace(/^dev\.knclaw\./, "")}`,
          {
            "cloudevents.event_id": event.attributes.id!,
            "cloudevents.event_type": type,
            "knclaw.instance": config.instance,
          },
          () => dispatch(loop, event),
        );
      } catch (error) {
        if (error instanceof RetryLater) log.warn({ reason: error.reason }, "step deferred: the broker will redeliver");
        throw error;
      }
    }, trust),
    logger: log,
  });
  return {
    fetch: (request) => app.fetch(request),
    close: async () => {
      await hops?.close();
    },
    loop,
  };
}

async function dispatch(loop: AgentLoop, event: CloudEvent): Promise<void> {
  switch (event.attributes.type) {
    case T.MESSAGE_RECEIVED:
      return loop.onMessage(event, readEvent(event, T.MESSAGE_RECEIVED));
    case T.RUN_REQUESTED:
      return loop.onTask(event, readEvent(event, T.RUN_REQUESTED));
    case T.TOOL_COMPLETED:
      return loop.onToolCompleted(event, readEvent(event, T.TOOL_COMPLETED));
    case T.APPROVAL_DECIDED:
      return loop.onApprovalDecided(event, readEvent(event, T.APPROVAL_DECIDED));
    case T.PING:
      return loop.onPing(event);
    case T.TIMER_FIRED:
      return loop.onTimer(event, readEvent(event, T.TIMER_FIRED));
    default:
      throw new RejectedEvent(`this agent does not take ${event.attributes.type} events`);
  }
}

/** A tool whose argument schema does not compile is not offered (tools/catalog.ts): the operator learns which and why. */
function logWithheld(catalog: ToolCatalog, log: Logger): void {
  for (const tool of catalog.withheld) {
    log.error(
      { tool: tool.ref, reason: tool.reason },
      "tool not available: its argument schema cannot be validated, so it is not offered",
    );
  }
}
