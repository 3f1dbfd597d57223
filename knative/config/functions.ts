/**
 * Which functions a config deploys, each with its ksvc name, source entry, component kind and effective knobs.
 * The renderer, `knclaw dev` (through the rendered `knclaw.dev/entry` annotation) and the cross-checks all read this
 * one inventory.
 */
import type { EgressRule, KsvcKnobs, Resources } from "./primitives.ts";
import type { PlatformConfig } from "./schema.ts";
import type { ConfigChannelType } from "./sections/channels.ts";
import { REDIS_NAME, REDIS_PORT } from "./sections/redis.ts";
import { builtinSkillNeeds, mcpSkillEgress, mcpSkillMayMutate } from "./sections/skills.ts";

type Component = "memory" | "agent" | "channel" | "gateway" | "deadletter" | "skill";

export interface FunctionSpec {
  /** ksvc name, also the ServiceAccount's and NetworkPolicy's. */
  name: string;
  component: Component;
  /** Path of the function's app.ts relative to the repository root. */
  entry: string;
  /** Knobs after merging built-in defaults, the platform `defaults` and the component's own. */
  knobs: EffectiveKnobs;
  /** Reachable from outside the cluster (webhooks, the gateway); everything else is cluster-local. */
  public: boolean;
  /** Emits events: gets K_SINK from a SinkBinding. */
  producer: boolean;
  /** Talks to the memory service: gets KNCLAW_MEMORY_URL and its own KNCLAW_MEMORY_TOKEN. */
  memoryClient: boolean;
  /**
   * A skill's memory token scope (with memoryClient): `notes` for a skill that keeps notes, `skill` for one that only
   * records the mutating calls it ran (its own namespace and nothing else). Rendered as the LABEL_MEMORY_SCOPE label,
   * which knative/secrets/memory-scope.ts reads to mint the token.
   */
  skillMemoryScope?: "notes" | "skill";
  /** Needs a Kubernetes API token (a skill with RBAC rules). */
  kubeApi: boolean;
  /** Declared egress beyond DNS, the broker and the memory service. */
  egress: EgressRule[];
  instance?: string;
  channel?: ConfigChannelType;
  skill?: string;
}

interface EffectiveKnobs extends KsvcKnobs {
  minScale: number;
  timeoutSeconds: number;
  containerConcurrency: number;
  resources: Resources;
  env: Record<string, string>;
  secretEnv: NonNullable<KsvcKnobs["secretEnv"]>;
}

const BUILTIN: Record<Component, Partial<KsvcKnobs>> = {
  memory: { containerConcurrency: 100, timeoutSeconds: 30, maxScale: 5 },
  agent: { containerConcurrency: 10, timeoutSeconds: 300, maxScale: 10 },
  channel: { containerConcurrency: 50, timeoutSeconds: 30, maxScale: 5 },
  gateway: { containerConcurrency: 50, timeoutSeconds: 300, maxScale: 5 },
  deadletter: { containerConcurrency: 50, timeoutSeconds: 30, maxScale: 2 },
  skill: { containerConcurrency: 10, timeoutSeconds: 120, maxScale: 5 },
};

const BUILTIN_RESOURCES: Resources = { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } };

/** Fields of KsvcKnobs that are knobs (not component settings that happen to live beside them). */
const KNOB_KEYS = [
  "image",
  "minScale",
  "maxScale",
  "initialScale",
  "target",
  "metric",
  "window",
  "scaleDownDelay",
  "timeoutSeconds",
  "containerConcurrency",
] as const;

function mergeKnobs(component: Component, platformDefaults: KsvcKnobs, own: KsvcKnobs): EffectiveKnobs {
  const out: KsvcKnobs = { ...BUILTIN[component] };
  for (const layer of [platformDefaults, own]) {
    for (const key of KNOB_KEYS) {
      const value = layer[key];
      if (value !== undefined) (out as Record<string, unknown>)[key] = value;
    }
  }
  return {
    ...out,
    minScale: out.minScale ?? 0,
    timeoutSeconds: out.timeoutSeconds ?? 300,
    containerConcurrency: out.containerConcurrency ?? 0,
    resources: mergeResources(BUILTIN_RESOURCES, platformDefaults.resources, own.resources),
    env: { ...platformDefaults.env, ...own.env },
    secretEnv: { ...platformDefaults.secretEnv, ...own.secretEnv },
  };
}

function mergeResources(...layers: (Resources | undefined)[]): Resources {
  const requests: NonNullable<Resources["requests"]> = {};
  const limits: NonNullable<Resources["limits"]> = {};
  for (const layer of layers) {
    Object.assign(requests, layer?.requests);
    Object.assign(limits, layer?.limits);
  }
  return { requests, limits };
}

function agentFunctionName(instance: string): string {
  return `agent-${instance}`;
}
function channelFunctionName(type: string): string {
  return `channel-${type}`;
}
function skillFunctionName(skill: string): string {
  return `skill-${skill}`;
}

/** Every function the config deploys, in a stable order. */
export function listFunctions(config: PlatformConfig): FunctionSpec[] {
  const defaults = config.defaults;
  const out: FunctionSpec[] = [];
  const memoryKnobs = mergeKnobs("memory", defaults, config.memory);
  // The memory service keeps the due-time timers and fires them: it is always on, so that nothing else has to be.
  memoryKnobs.minScale = Math.max(1, memoryKnobs.minScale);
  if (config.memory.redis === undefined) {
    // The embedded backend keeps state in the pod: exactly one replica.
    memoryKnobs.maxScale = 1;
  }
  out.push({
    name: "memory",
    component: "memory",
    entry: "functions/memory/app.ts",
    knobs: memoryKnobs,
    public: false,
    // Fires the timers (timer.fired) into the broker.
    producer: true,
    memoryClient: false,
    kubeApi: false,
    egress: memoryEgress(config),
  });
  const sink = config.broker.deadLetterSink;
  if (sink.destination === undefined && sink.disabled !== true) {
    out.push({
      name: "deadletter",
      component: "deadletter",
      entry: "functions/deadletter/app.ts",
      knobs: mergeKnobs("deadletter", defaults, sink.function ?? {}),
      public: false,
      producer: true,
      memoryClient: true,
      kubeApi: false,
      egress: [],
    });
  }
  if (config.gateway.enabled) {
    out.push({
      name: "gateway",
      component: "gateway",
      entry: "functions/gateway/app.ts",
      knobs: mergeKnobs("gateway", defaults, config.gateway),
      public: config.gateway.public,
      producer: true,
      memoryClient: true,
      kubeApi: false,
      egress: config.gateway.egress,
    });
  }
  for (const [type, channel] of sortedEntries(config.channels) as [
    ConfigChannelType,
    (typeof config.channels)[ConfigChannelType] & {},
  ][]) {
    if (!channel.enabled) continue;
    out.push({
      name: channelFunctionName(type),
      component: "channel",
      entry: `functions/channels/${type}/app.ts`,
      knobs: mergeKnobs("channel", defaults, channel),
      public: true,
      producer: true,
      memoryClient: true,
      kubeApi: false,
      egress: channel.egress,
      channel: type,
    });
  }
  for (const [name, instance] of sortedEntries(config.instances)) {
    out.push({
      name: agentFunctionName(name),
      component: "agent",
      entry: "functions/agent/app.ts",
      knobs: mergeKnobs("agent", defaults, instance),
      public: false,
      producer: true,
      memoryClient: true,
      kubeApi: false,
      egress: instance.egress,
      instance: name,
    });
  }
  for (const [name, skill] of sortedEntries(config.skills)) {
    if (!skill.enabled || skill.external !== undefined) continue;
    if (skill.mcp !== undefined) {
      // An MCP server is the one skill function skills/mcp/app.ts, configured by its env: no RBAC, egress only to the
      // server (a stdio server runs inside the pod and reaches nothing unless configured), and a memory token for its
      // own call records unless every tool it may offer is configured read-only.
      const records = mcpSkillMayMutate(skill.mcp);
      out.push({
        name: skillFunctionName(name),
        component: "skill",
        entry: "skills/mcp/app.ts",
        knobs: mergeKnobs("skill", defaults, skill),
        public: false,
        producer: false,
        memoryClient: records,
        ...(records ? { skillMemoryScope: "skill" as const } : {}),
        kubeApi: false,
        egress: [...skill.egress, ...mcpSkillEgress(skill.mcp)],
        skill: name,
      });
      continue;
    }
    // A built-in skill's manifest adds what its code needs; config can only add more egress on top.
    const needs = builtinSkillNeeds(name);
    const notes = skill.memory || (needs?.memoryClient ?? false);
    // A skill with a mutating tool records its calls; so does one whose tools the renderer cannot see (not shipped).
    const records = needs?.mutates ?? true;
    const memoryScope = notes ? "notes" : records ? "skill" : undefined;
    out.push({
      name: skillFunctionName(name),
      component: "skill",
      entry: `skills/${name}/app.ts`,
      knobs: mergeKnobs("skill", defaults, skill),
      public: false,
      producer: false,
      memoryClient: memoryScope !== undefined,
      ...(memoryScope === undefined ? {} : { skillMemoryScope: memoryScope }),
      kubeApi: skill.rbac !== undefined || (needs?.kubeApi ?? false),
      egress: [...skill.egress, ...(needs?.egress ?? [])],
      skill: name,
    });
  }
  return out;
}

/** Where the memory service may connect: an in-cluster Redis's pods exactly, else the configured rules. */
function memoryEgress(config: PlatformConfig): EgressRule[] {
  const redis = config.memory.redis;
  if (redis?.inCluster === undefined) return redis?.egress ?? [];
  return [
    {
      namespace: config.metadata.namespace,
      podLabels: redisPodLabels(config),
      ports: [REDIS_PORT],
      protocol: "TCP",
    },
  ];
}

/** Labels of the in-cluster Redis's pods: what its StatefulSet selects and its NetworkPolicy protects. */
export function redisPodLabels(config: PlatformConfig): Record<string, string> {
  return { "app.kubernetes.io/name": REDIS_NAME, "app.kubernetes.io/instance": config.metadata.name };
}

/** Object entries sorted by key, so rendering never depends on the order keys were written in. */
function sortedEntries<V>(record: Partial<Record<string, V>>): [string, V][] {
  return (Object.entries(record) as [string, V][])
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Which image a function runs: its own override, then images.functions[<name>], [<kind>], then images.default. */
export function resolveImage(
  config: PlatformConfig,
  fn: Pick<FunctionSpec, "name" | "component" | "knobs">,
): string | undefined {
  const images = config.images;
  const ref = fn.knobs.image ?? images.functions[fn.name] ?? images.functions[fn.component] ?? images.default;
  if (ref === undefined) return undefined;
  return qualifyImage(ref, images.registry);
}

/** Prefix a relative reference (no registry host in its first component) with the configured registry. */
function qualifyImage(ref: string, registry: string | undefined): string {
  if (registry === undefined) return ref;
  const first = ref.split("/")[0]!;
  const hasHost = ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return hasHost ? ref : `${registry.replace(/\/$/, "")}/${ref}`;
}
