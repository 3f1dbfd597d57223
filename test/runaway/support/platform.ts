import { upperSnake } from "../../../cli/dev/secrets.ts";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import type { ApprovalRequested, MessageReceived } from "../../../eventing/catalog/index.ts";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { generateSigningKey, serveSkill } from "../../../skills/runtime/index.ts";
import { type FakeOpenAI, type Responder, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { type Received, type Subscriber, startSubscriber } from "../../support/dev-platform.ts";
import { devTrustEnv, roleKeys, signAs } from "../../support/event-keys.ts";
import { BULK_SKILL, createBulkSkill } from "../fixtures/bulk-skill/definition.ts";
import type { Executions } from "../fixtures/bulk-skill/handlers.ts";

/**
 * `knclaw dev` (the startDev library) with a misbehaving model and oversized tools: the rendered objects of one
 * knclaw.yaml with an instance per runaway case, the fake OpenAI-compatible server behind all of them (it answers by
 * the request's model, which is the instance's), the bulk skill (test/runaway/fixtures) served by serveSkill as an
 * external skill, one subscriber catching every run.completed / run.failed, one as the Broker's dead-letter sink, and
 * one approving every approval.requested as the person who started the run.
 */
export interface RunawayPlatform {
  dev: DevRuntime;
  fake: FakeOpenAI;
  executions: Executions;
  /** Every run.completed and run.failed. */
  runs: Subscriber;
  /** The Broker's dead-letter sink. */
  deadLetters: Subscriber;
  /** An operator client of the dev memory service. */
  memory: MemoryClient;
  /** The largest RSS of this process (the dev runtime runs in it) seen since start, in MB. */
  peakRssMb(): number;
  /** Send message.received to `instance` and wait for its run to end; the outcome and how long it took. */
  run(instance: string, text: string, options?: { sender?: string }): Promise<RunEnd>;
  close(): Promise<void>;
}

export interface RunEnd {
  type: string;
  data: { runId: string; reason?: string; message?: string; output?: string; turns?: number; toolCalls?: number };
  seconds: number;
}

export interface InstanceSpec {
  policy: string;
  agent?: Record<string, unknown>;
}

const keys = generateSigningKey();
const MEMORY_SECRET = "runaway-memory-token-secret-0123456789abcdef";

export async function startRunawayPlatform(options: {
  instances: Record<string, InstanceSpec>;
  policies: Record<string, unknown>;
  responder: Responder;
}): Promise<RunawayPlatform> {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  sample();
  const sampler = setInterval(sample, 100);
  sampler.unref();

  const fake = await startFakeOpenAI({ apiKey: "not-needed", responder: options.responder });
  const runs = await startSubscriber();
  const deadLetters = await startSubscriber();
  // The person who started the run approves every mutating call at once (external mutating tools need approval).
  let brokerUrl = "";
  const approver = await startSubscriber((request) => {
    void approve(brokerUrl, JSON.parse(request.body.toString("utf8")) as ApprovalRequested);
    return { status: 200 };
  });
  const executions: Executions = { ping: new Map(), read: new Map(), write: new Map() };
  const skill: Served = await serve(
    serveSkill(createBulkSkill(executions), {
      env: {
        KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
        KNCLAW_EVENT_SIGNING_KEY: roleKeys(`skill/${BULK_SKILL}`).privateKeyPem,
        NODE_ENV: "test",
      },
    }),
    { port: 0, host: "127.0.0.1" },
  );

  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 3, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT60S" },
      deadLetterSink: { destination: { uri: deadLetters.url } },
    },
    memory: {},
    gateway: { enabled: false },
    policies: options.policies,
    skills: {
      [BULK_SKILL]: {
        external: {
          url: skill.url,
          tools: [
            { name: "ping", description: "Answers pong.", parameters: { type: "object", properties: {} } },
            { name: "read", description: "Reads 50 MB.", parameters: { type: "object", properties: {} } },
            {
              name: "write",
              description: "Writes, echoes 50 MB.",
              parameters: { type: "object", properties: {} },
              mutates: true,
            },
          ],
        },
      },
    },
    instances: Object.fromEntries(
      Object.entries(options.instances).map(([name, spec]) => [
        name,
        {
          model: `openai-compatible/${name}`,
          provider: { baseUrl: fake.url },
          policy: spec.policy,
          skills: [BULK_SKILL],
          ...(spec.agent ? { agent: spec.agent } : {}),
        },
      ]),
    ),
  });
  const objects = render(config) as unknown as KnativeObject[];
  const catchers: KnativeObject[] = [
    [T.RUN_COMPLETED, runs.url],
    [T.RUN_FAILED, runs.url],
    [T.APPROVAL_REQUESTED, approver.url],
  ].map(([type, uri], index) => ({
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: `test-catcher-${index}`, namespace: "knclaw" },
    spec: { broker: "default", filter: { attributes: { type } }, subscriber: { uri } },
  }));
  const env: Record<string, string> = {
    [memorySecretVariable(objects)]: MEMORY_SECRET,
    // The external skill's key, and the Slack adapter this suite plays (messages in, approvals).
    ...devTrustEnv({ externalSkills: [BULK_SKILL], producers: ["channel/slack"] }),
  };
  for (const name of Object.keys(options.instances)) env[`KNCLAW_AGENT_KEYS_${upperSnake(name)}`] = keys.privateKeyPem;
  const dev = await startDev({
    objects: [...objects, ...catchers],
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    env,
  });
  brokerUrl = dev.brokers[0]!.url;
  const memory = new MemoryClient({
    baseUrl: memoryUrl(objects),
    token: mintMemoryToken(MEMORY_SECRET, { kind: "operator" }),
    fetch: dev.fetch,
    timeoutMs: 30_000,
  });

  let sequence = 0;
  const run = async (instance: string, text: string, runOptions: { sender?: string } = {}): Promise<RunEnd> => {
    sequence += 1;
    const message = messageFor(instance, text, runOptions.sender ?? "U1", `runaway-${sequence}-${Date.now()}`);
    const started = Date.now();
    const ended = waitForRunEnd(runs, instance, started);
    const event = signAs(
      "channel/slack",
      makeEvent(T.MESSAGE_RECEIVED, { source: "/knclaw/channels/slack", data: message }),
    );
    const { headers, body } = encodeEvent(event, "binary");
    const response = await fetch(dev.brokers[0]!.url, {
      method: "POST",
      headers,
      body: body as ConstructorParameters<typeof Response>[0],
    });
    if (response.status !== 202) throw new Error(`the broker answered ${response.status}`);
    return ended;
  };

  return {
    dev,
    fake,
    executions,
    runs,
    deadLetters,
    memory,
    peakRssMb: () => {
      sample();
      return peak / 1024 / 1024;
    },
    run,
    close: async () => {
      clearInterval(sampler);
      await dev.shutdown();
      await skill.shutdown();
      await Promise.all([runs.close(), deadLetters.close(), approver.close(), fake.close()]);
    },
  };
}

export function messageFor(instance: string, text: string, sender: string, messageId: string): MessageReceived {
  return {
    instance,
    channel: "slack",
    messageId,
    conversation: "C1",
    sender: { channel: "slack", id: sender },
    text,
    attachments: [],
    replyTo: { channel: "slack", conversation: "C1" },
    receivedAt: new Date().toISOString(),
  };
}

async function approve(brokerUrl: string, request: ApprovalRequested): Promise<void> {
  const decided = makeEvent(T.APPROVAL_DECIDED, {
    source: "/knclaw/channels/slack",
    data: {
      approvalId: request.approvalId,
      runId: request.runId,
      callId: request.callId,
      instance: request.instance,
      digest: request.digest,
      decision: "approve",
      decidedBy: { channel: "slack", id: "U1" },
    },
  });
  const { headers, body } = encodeEvent(signAs("channel/slack", decided), "binary");
  await fetch(brokerUrl, { method: "POST", headers, body: body as ConstructorParameters<typeof Response>[0] });
}

/** The first run.completed / run.failed of `instance` received after `since`. */
async function waitForRunEnd(runs: Subscriber, instance: string, since: number): Promise<RunEnd> {
  const seen = new Set(runs.received);
  const ended: Received = await runs.waitUntil(
    (r) => !seen.has(r) && r.headers["ce-knclawinstance"] === instance && r.at >= since,
  );
  return {
    type: String(ended.headers["ce-type"]),
    data: JSON.parse(ended.body.toString("utf8")) as RunEnd["data"],
    seconds: (ended.at - since) / 1000,
  };
}

/** The variable startDev reads the memory token secret from (cli/dev/secrets.ts: `<SECRET>_SECRET`). */
function memorySecretVariable(objects: KnativeObject[]): string {
  for (const object of objects) {
    const containers = (object.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined)?.template?.spec
      ?.containers as Array<{ env?: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string } } }> }>;
    for (const container of containers ?? []) {
      for (const variable of container.env ?? []) {
        const secret = variable.valueFrom?.secretKeyRef?.name;
        if (variable.name === "KNCLAW_MEMORY_TOKEN_SECRET" && secret) return upperSnake(`${secret}_secret`);
      }
    }
  }
  throw new Error("no memory service with a token secret among the rendered objects");
}

/** The memory service's cluster URL, as the agents' KNCLAW_MEMORY_URL names it. */
function memoryUrl(objects: KnativeObject[]): string {
  for (const object of objects) {
    const containers = (object.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined)?.template?.spec
      ?.containers as Array<{ env?: Array<{ name: string; value?: string }> }>;
    for (const container of containers ?? []) {
      const url = container.env?.find((variable) => variable.name === "KNCLAW_MEMORY_URL")?.value;
      if (url) return url;
    }
  }
  throw new Error("no KNCLAW_MEMORY_URL among the rendered objects");
}
