import { randomBytes } from "node:crypto";
import { z } from "zod";
import { mintMemoryToken } from "../../../../clients/memory/tokens.ts";
import { readEvent } from "../../../../eventing/catalog/make.ts";
import * as T from "../../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny, encodeEvent } from "../../../../eventing/cloudevent/http-codec.ts";
import { type AgentAppOptions, createApp as createAgentApp } from "../../../../functions/agent/app.ts";
import { createApp as createMemoryApp, type MemoryServiceApp } from "../../../../functions/memory/app.ts";
import { type Served, serve } from "../../../../runtime/serve.ts";
import { defineSkill, describeSkill, type SkillDefinition } from "../../../../skills/package/define-skill.ts";
import { defineTool } from "../../../../skills/package/tool.ts";
import { fail, generateSigningKey, serveSkill } from "../../../../skills/runtime/index.ts";
import { type Received, startSubscriber } from "../../../support/dev-platform.ts";
import { eventKeysEnv, PLATFORM_PRODUCERS, roleKeys, signedRightly } from "../../../support/event-keys.ts";
import { deleteKeysWithPrefix } from "./redis-cleanup.ts";

/**
 * A test bench for the agent app: the real memory service on the real Redis (unique key prefix), the agent app spoken
 * to over HTTP as a broker would, real skill runtimes verifying real capability tokens, and a tiny bus the test drives
 * (deliver, duplicate, drop, crash) — so each scenario says exactly which deliveries happen.
 */
const keys = generateSigningKey();

export interface SkillCounters {
  calls: Record<string, number>;
}

export function testSkills(counters: SkillCounters, outputs: Record<string, unknown> = {}): SkillDefinition[] {
  const count = (name: string) => {
    counters.calls[name] = (counters.calls[name] ?? 0) + 1;
  };
  const getPods = defineTool({
    name: "get_pods",
    description: "List pods in a namespace",
    input: z.object({ namespace: z.string().min(1) }),
    mutates: false,
    approval: false,
    groups: ["k8s:read"],
  });
  const deletePod = defineTool({
    name: "delete_pod",
    description: "Delete a pod",
    input: z.object({ namespace: z.string(), name: z.string() }),
    mutates: true,
    approval: true,
    groups: ["k8s:write"],
  });
  const fetchUrl = defineTool({
    name: "fetch",
    description: "Fetch a URL",
    input: z.object({ url: z.string() }),
    mutates: false,
    approval: false,
  });
  return [
    defineSkill({
      name: "kubernetes",
      instructions: "Use the kubernetes tools to inspect the cluster.",
      manifest: {},
      tools: [getPods, deletePod],
      handlers: {
        get_pods: async ({ namespace }) => {
          count("get_pods");
          if (namespace === "missing") throw fail.notFound(`namespace ${namespace} not found`);
          return outputs.get_pods ?? { namespace, pods: ["web-1", "web-2"] };
        },
        delete_pod: async ({ name }) => {
          count("delete_pod");
          return { deleted: name };
        },
      },
    }),
    defineSkill({
      name: "http",
      manifest: {},
      tools: [fetchUrl],
      handlers: {
        fetch: async ({ url }) => {
          count("fetch");
          return outputs.fetch ?? { url, status: 200, body: "all systems nominal" };
        },
      },
    }),
  ];
}

export interface MemoryFixture {
  served: Served;
  app: MemoryServiceApp;
  url: string;
  tokenFor(instance: string): string;
  /** How far the memory service's clock is ahead of real time: its due timers fire by that clock. */
  clock: { offsetMs: number };
  /** Fire the timers due by the memory service's clock; the timer.fired events it sent to its broker. */
  fireDueTimers(): Promise<CloudEvent[]>;
  close(): Promise<void>;
}

/**
 * The memory service on the local Redis (a unique key prefix). Its broker is a subscriber that records what it gets;
 * due timers fire only when the test calls fireDueTimers (the service's own poll comes once a minute).
 */
export async function startMemory(): Promise<MemoryFixture> {
  const secret = randomBytes(24).toString("base64url");
  const prefix = `test-agent-${randomBytes(6).toString("hex")}:`;
  const broker = await startSubscriber(() => ({ status: 202 }));
  const clock = { offsetMs: 0 };
  const app = await createMemoryApp(
    {
      KNCLAW_MEMORY_TOKEN_SECRET: secret,
      KNCLAW_MEMORY_BACKEND: "redis",
      KNCLAW_REDIS_URL: "redis://127.0.0.1:6379",
      KNCLAW_REDIS_KEY_PREFIX: prefix,
      KNCLAW_MEMORY_TIMER_POLL_MS: "60000",
      K_SINK: broker.url,
      KNCLAW_EVENT_SIGNING_KEY: roleKeys("memory").privateKeyPem,
      NODE_ENV: "test",
    },
    { now: () => Date.now() + clock.offsetMs },
  );
  const served = await serve(app, { port: 0, host: "127.0.0.1" });
  return {
    served,
    app,
    url: served.url,
    tokenFor: (instance) => mintMemoryToken(secret, { kind: "instance", instance }),
    clock,
    async fireDueTimers() {
      const before = broker.received.length;
      await app.timers!.poll();
      return broker.received.slice(before).map(receivedEvent);
    },
    close: async () => {
      await served.shutdown();
      await broker.close();
      await deleteKeysWithPrefix(prefix);
    },
  };
}

function receivedEvent(request: Received): CloudEvent {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string") headers.set(name, value);
  }
  return decodeMessageIfAny(headers, new Uint8Array(request.body))!;
}

export interface AgentEnvInput {
  memory: MemoryFixture;
  modelUrl?: string;
  model?: string;
  policy?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  skills: SkillDefinition[];
  schedules?: Record<string, unknown>;
  instance?: string;
}

export function agentEnv(input: AgentEnvInput): Record<string, string> {
  const instance = input.instance ?? "ops";
  const env: Record<string, string> = {
    NODE_ENV: "test",
    KNCLAW_INSTANCE: instance,
    KNCLAW_MODEL: input.model ?? "openai/gpt-test",
    KNCLAW_PROVIDER_API_KEY: "sk-test-key",
    KNCLAW_POLICY_NAME: "default",
    KNCLAW_POLICY: JSON.stringify(input.policy ?? {}),
    KNCLAW_AGENT: JSON.stringify({ notes: { limit: 0 }, ...(input.settings ?? {}) }),
    KNCLAW_SKILL_CATALOG: JSON.stringify(input.skills.map(describeSkill)),
    KNCLAW_SCHEDULES: JSON.stringify(input.schedules ?? {}),
    KNCLAW_MEMORY_URL: input.memory.url,
    KNCLAW_MEMORY_TOKEN: input.memory.tokenFor(instance),
    KNCLAW_SIGNING_KEY: keys.privateKeyPem,
    // The agent acts on events signed by the platform's producers and by the skills it calls (eventing/trust/).
    ...eventKeysEnv(undefined, [
      ...PLATFORM_PRODUCERS,
      "memory",
      ...input.skills.map((skill) => `skill/${skill.name}`),
    ]),
    K_SINK: "http://127.0.0.1:9/unused",
  };
  if (input.modelUrl !== undefined) env.KNCLAW_PROVIDER_BASE_URL = input.modelUrl;
  return env;
}

/**
 * The bus: events the agent emits are queued; `pump` delivers them like Triggers would (tool.requested to the skill
 * named by knclawskill, whose reply goes back to the agent; everything else is recorded as sent).
 */
export class TestBus {
  readonly sent: CloudEvent[] = [];
  /** tool.requested events handed to skills. */
  readonly requested: CloudEvent[] = [];
  readonly queue: CloudEvent[] = [];
  readonly skills = new Map<string, Served>();
  agent!: Served;
  private readonly servers: Served[] = [];
  /** How many times each delivery to the agent and to skills happens. */
  copies = 1;
  /** Called before a delivery; returning false drops it. */
  filter: (event: CloudEvent) => boolean = () => true;

  private readonly watchers: Array<{ ready: () => boolean; resolve: () => void }> = [];

  emit = async (event: CloudEvent): Promise<void> => {
    this.queue.push(event);
    for (const watcher of [...this.watchers]) {
      if (watcher.ready()) {
        this.watchers.splice(this.watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    }
  };

  /** Resolves as soon as `ready()` holds, checked on every emit (no polling). */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push({ ready, resolve }));
  }

  async addSkills(definitions: SkillDefinition[]): Promise<void> {
    for (const definition of definitions) {
      const app = serveSkill(definition, {
        env: {
          KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
          KNCLAW_EVENT_SIGNING_KEY: roleKeys(`skill/${definition.name}`).privateKeyPem,
          NODE_ENV: "test",
        },
      });
      const served = await serve(app, { port: 0, host: "127.0.0.1" });
      this.servers.push(served);
      this.skills.set(definition.name, served);
    }
  }

  /** Start (or restart, as after a crash: fresh process memory) the agent. */
  async startAgent(env: Record<string, string>, options: AgentAppOptions = {}): Promise<void> {
    const app = await createAgentApp(env, { emit: this.emit, ...options });
    this.agent = await serve(app, { port: 0, host: "127.0.0.1" });
    this.servers.push(this.agent);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((served) => served.shutdown()));
  }

  /** Deliver to the agent as the broker does; resolves to the HTTP status of the last copy. */
  async deliver(event: CloudEvent): Promise<number> {
    let status = 0;
    // An event the test built unsigned arrives signed by the producer the catalog expects (test/support/event-keys.ts).
    const signed = event.attributes.knclawsignature === undefined ? signedRightly(event) : event;
    const attempts = Array.from({ length: this.copies }, () => post(this.agent, signed));
    for (const response of await Promise.all(attempts)) status = response.status;
    return status;
  }

  /** Deliver every queued event until the system is quiet. Returns the agent statuses seen. */
  async pump(limit = 100): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < limit && this.queue.length > 0; i++) {
      const event = this.queue.shift()!;
      if (!this.filter(event)) continue;
      const type = event.attributes.type;
      if (type === T.TOOL_REQUESTED) {
        this.requested.push(event);
        const skill = this.skills.get(event.attributes.knclawskill ?? "");
        if (skill === undefined) continue;
        const replies = await Promise.all(Array.from({ length: this.copies }, () => post(skill, event)));
        for (const reply of replies) {
          if (reply.event) {
            statuses.push(await this.deliverOnce(reply.event));
          }
        }
      } else {
        this.sent.push(event);
      }
    }
    return statuses;
  }

  /** Deliveries the agent did not acknowledge (a broker would retry them). */
  readonly failed: CloudEvent[] = [];

  private async deliverOnce(event: CloudEvent): Promise<number> {
    const status = (await post(this.agent, event)).status;
    if (status >= 300) this.failed.push(event);
    return status;
  }

  /** Redeliver what failed, as the broker's retry would. */
  async redeliverFailed(): Promise<number[]> {
    const again = this.failed.splice(0);
    const statuses: number[] = [];
    for (const event of again) statuses.push(await this.deliverOnce(event));
    return statuses;
  }

  ofType(type: string): CloudEvent[] {
    return this.sent.filter((event) => event.attributes.type === type);
  }

  /** Distinct events by id (consumers de-duplicate on id). */
  distinct(type: string): CloudEvent[] {
    const seen = new Map<string, CloudEvent>();
    for (const event of this.ofType(type)) seen.set(event.attributes.id!, event);
    return [...seen.values()];
  }

  data<K extends Parameters<typeof readEvent>[1]>(event: CloudEvent, type: K) {
    return readEvent(event, type);
  }
}

/** POST an event to a served function over loopback HTTP, binary mode, as a Trigger delivery does. */
export async function post(target: Served, event: CloudEvent): Promise<{ status: number; event?: CloudEvent }> {
  const { headers, body } = encodeEvent(event, "binary");
  const response = await fetch(`${target.url}/`, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const reply = decodeMessageIfAny(response.headers, bytes);
  return reply === undefined ? { status: response.status } : { status: response.status, event: reply };
}
