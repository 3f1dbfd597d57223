import { expect } from "vitest";
import { z } from "zod";
import { type DevRuntime, startDev } from "../../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../../eventing/broker/objects.ts";
import { makeEvent } from "../../../../eventing/catalog/make.ts";
import * as T from "../../../../eventing/catalog/types.ts";
import { encodeEvent } from "../../../../eventing/cloudevent/http-codec.ts";
import { validateConfigValue } from "../../../../knative/config/load.ts";
import { render } from "../../../../knative/render/index.ts";
import { type Served, serve } from "../../../../runtime/serve.ts";
import { defineSkill } from "../../../../skills/package/define-skill.ts";
import { defineTool } from "../../../../skills/package/tool.ts";
import { serveSkill } from "../../../../skills/runtime/index.ts";
import { devTrustEnv, roleKeys, signAs } from "../../../support/event-keys.ts";

/**
 * What the agent's end-to-end suites on knclaw dev share: two external skills (`cluster` with `get_pods`, `web` with
 * `status`) served by the skill runtime on their own ports, counting their calls in `calls`; the rendered platform
 * around them; and a signed Slack message.received posted into the broker ingress.
 */
const TOOLS = [
  ["cluster", "get_pods", "namespace"],
  ["web", "status", "url"],
] as const;

/** Serves both skills; they trust capability tokens of `agentPublicKeyPem` and sign replies as `skill/<name>`. */
export async function startToolSkills(agentPublicKeyPem: string, calls: Record<string, number>): Promise<Served[]> {
  const servers: Served[] = [];
  for (const [name, tool] of TOOLS) {
    const declared = defineTool({
      name: tool as string,
      description: `${tool} tool`,
      input: z.object({ namespace: z.string().optional(), url: z.string().optional() }),
      mutates: false,
      approval: false,
    });
    const handler = async () => {
      calls[tool] = (calls[tool] ?? 0) + 1;
      return { tool, ok: true };
    };
    const app = serveSkill(defineSkill({ name, manifest: {}, tools: [declared], handlers: { [tool]: handler } }), {
      env: {
        KNCLAW_AGENT_PUBLIC_KEY: agentPublicKeyPem,
        KNCLAW_EVENT_SIGNING_KEY: roleKeys(`skill/${name}`).privateKeyPem,
        NODE_ENV: "test",
      },
    });
    servers.push(await serve(app, { port: 0, host: "127.0.0.1" }));
  }
  return servers;
}

/** The knclaw.yaml `skills` section naming the servers of startToolSkills as external skills. */
function toolSkillsConfig(servers: Served[]): Record<string, unknown> {
  return Object.fromEntries(
    TOOLS.map(([name, tool, property], index) => [
      name,
      {
        external: {
          url: servers[index]!.url,
          tools: [
            {
              name: tool as string,
              description: `${tool} tool`,
              parameters: { type: "object", properties: { [property]: { type: "string" } } },
            },
          ],
        },
      },
    ]),
  );
}

/**
 * The rendered objects of a knclaw.yaml with the two skills, the given instances and nothing else (a broker retrying
 * fast, no dead-letter sink, no gateway) but `extra` sections, plus a Trigger per event type in `catch` delivering to
 * `catcherUrl`.
 */
export function toolPlatformObjects(
  servers: Served[],
  instances: Record<string, unknown>,
  catcherUrl: string,
  catchTypes: string[],
  extra: Record<string, unknown> = {},
): KnativeObject[] {
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: {
      name: "default",
      delivery: { retry: 5, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT30S" },
      deadLetterSink: { disabled: true },
    },
    memory: {},
    gateway: { enabled: false },
    policies: { default: { budgets: { toolCalls: 10 }, termination: { maxTurns: 5 } } },
    skills: toolSkillsConfig(servers),
    instances,
    ...extra,
  });
  const catchers = catchTypes.map(
    (type, index): KnativeObject => ({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: `test-catcher-${index}`, namespace: "knclaw" },
      spec: { broker: "default", filter: { attributes: { type } }, subscriber: { uri: catcherUrl } },
    }),
  );
  return [...(render(config) as unknown as KnativeObject[]), ...catchers];
}

/** knclaw dev over `objects`, the `ops` agent signing with `opsKeyPem`, the two skills and the Slack adapter trusted. */
export function startToolPlatform(objects: KnativeObject[], opsKeyPem: string): Promise<DevRuntime> {
  return startDev({
    objects,
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    env: {
      KNCLAW_AGENT_KEYS_OPS: opsKeyPem,
      // The external skills' keys, and the Slack adapter the suites play.
      ...devTrustEnv({ externalSkills: ["cluster", "web"], producers: ["channel/slack"] }),
    },
  });
}

/** A Slack message for `instance`, signed as the Slack adapter, into the dev broker's ingress (202 expected). */
export async function sendSlackMessage(dev: DevRuntime, instance: string, text: string, conversation = "C1") {
  const event = makeEvent(T.MESSAGE_RECEIVED, {
    source: "/knclaw/channels/slack",
    data: {
      instance,
      channel: "slack",
      messageId: `${instance}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
      conversation,
      sender: { channel: "slack", id: "U1" },
      text,
      replyTo: { channel: "slack", conversation },
      receivedAt: new Date().toISOString(),
    },
  });
  const { headers, body } = encodeEvent(signAs("channel/slack", event), "binary");
  const response = await fetch(dev.brokers[0]!.url, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  expect(response.status).toBe(202);
}
