import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type DevRuntime, startDev } from "../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../eventing/broker/objects.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { withPlaceholderImages } from "../../../knative/config/images.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import type { FunctionApp } from "../../../runtime/function.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { defineSkill } from "../../../skills/package/define-skill.ts";
import { defineTool } from "../../../skills/package/tool.ts";
import { generateSigningKey, serveSkill } from "../../../skills/runtime/index.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { type Subscriber, startSubscriber } from "../../support/dev-platform.ts";

/**
 * An external skill under `knclaw dev`, set up as skills/runtime/README.md says ("External skills under knclaw dev"):
 * the agent's key given to knclaw dev as `KNCLAW_AGENT_KEYS_<INSTANCE>` and its public half to the skill, the skill's
 * reply key as `KNCLAW_EVENT_KEYS_SKILL_<NAME>`, and, with `oidc.enabled` and an `audience` for the skill, the
 * delivery token checked against the issuer and keys the listing names. A schedule's tick starts the run (a sender
 * the rendered EventPolicies admit), the model asks for the skill's tool, and the run completes.
 */
const AUDIENCE = "https://search.example.com";
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Setup {
  dev: DevRuntime;
  outcomes: Subscriber;
  calls: { find: number; authorized: number };
  fake: FakeOpenAI;
  /** The status of the skill's answer to its first delivery. */
  firstAnswer: Promise<number>;
}

/** knclaw dev over a config with the external skill `search`; the skill trusts `skillTrusts` (a public key PEM). */
async function start(
  agentKey: ReturnType<typeof generateSigningKey>,
  skillTrusts: string,
  skillAudience = AUDIENCE,
): Promise<Setup> {
  const fake = await startFakeOpenAI({ apiKey: "not-needed" });
  cleanup.push(() => fake.close());
  fake.setResponder((request) => {
    const results = (request.body.messages as Array<{ role: string; content?: string }>).filter(
      (m) => m.role === "tool",
    );
    if (results.length === 0) {
      return { kind: "message", toolCalls: [{ id: "call_1", name: "search__find", arguments: '{"q":"knative"}' }] };
    }
    return { kind: "message", text: `The skill said: ${results[0]!.content}` };
  });
  const outcomes = await startSubscriber();
  cleanup.push(() => outcomes.close());
  // The skill's server listens first (its URL goes into the config); its app is made once knclaw dev says where its
  // issuer is, as a skill started after knclaw dev reads the listing.
  let skill: FunctionApp | undefined;
  const calls = { find: 0, authorized: 0 };
  const answered: number[] = [];
  let onAnswer: (() => void) | undefined;
  const server: Served = await serve(
    {
      fetch: async (request) => {
        if (request.headers.get("authorization")?.startsWith("Bearer ")) calls.authorized += 1;
        const response = await skill!.fetch(request);
        answered.push(response.status);
        onAnswer?.();
        return response;
      },
    },
    { port: 0, host: "127.0.0.1" },
  );
  cleanup.push(() => server.shutdown());
  const skillKey = generateSigningKey();
  const config = validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    broker: {
      name: "default",
      delivery: { retry: 2, backoffPolicy: "exponential", backoffDelay: "PT0.05S", timeout: "PT30S" },
      deadLetterSink: { disabled: true },
    },
    oidc: { enabled: true },
    gateway: { enabled: false },
    policies: { default: { budgets: { toolCalls: 3 }, termination: { maxTurns: 3 } } },
    skills: {
      search: {
        external: {
          url: server.url,
          audience: AUDIENCE,
          tools: [{ name: "find", description: "Search", parameters: { type: "object", properties: {} } }],
        },
      },
    },
    instances: {
      ops: {
        model: "openai-compatible/gpt-test",
        provider: { baseUrl: fake.url },
        skills: ["search"],
        schedules: [{ name: "daily", schedule: "0 9 * * *", task: "search for knative" }],
      },
    },
  });
  const catcher: KnativeObject = {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "test-outcomes", namespace: "knclaw" },
    spec: { broker: "default", filter: { attributes: { type: T.RUN_COMPLETED } }, subscriber: { uri: outcomes.url } },
  };
  const dev = await startDev({
    objects: [...(render(withPlaceholderImages(config)) as unknown as KnativeObject[]), catcher],
    port: 0,
    schedulePings: false,
    drainTimeoutMs: 5_000,
    oidc: {},
    // As the README says: the agent's key and the skill's reply key, by their Secret keys' names.
    env: { KNCLAW_AGENT_KEYS_OPS: agentKey.privateKeyPem, KNCLAW_EVENT_KEYS_SKILL_SEARCH: skillKey.privateKeyPem },
  });
  cleanup.push(() => dev.shutdown());
  const find = defineTool({
    name: "find",
    description: "Search",
    input: z.object({ q: z.string() }),
    mutates: false,
    approval: false,
  });
  const handlers = {
    find: async () => {
      calls.find += 1;
      return { hits: 3 };
    },
  };
  skill = serveSkill(defineSkill({ name: "search", manifest: {}, tools: [find], handlers }), {
    env: {
      KNCLAW_AGENT_KEYS: JSON.stringify({ ops: skillTrusts }),
      KNCLAW_EVENT_SIGNING_KEY: skillKey.privateKeyPem,
      KNCLAW_DELIVERY_AUDIENCE: skillAudience,
      KNCLAW_OIDC_ISSUER: dev.oidc!.issuer.issuer,
      KNCLAW_OIDC_JWKS_URL: dev.oidc!.issuer.jwksUrl,
      NODE_ENV: "test",
    },
  });
  const firstAnswer = new Promise<number>((resolve) => {
    onAnswer = () => resolve(answered[0]!);
  });
  return { dev, outcomes, calls, fake, firstAnswer };
}

async function runOnce(setup: Setup): Promise<string> {
  await setup.dev.pings.fire("knclaw", "agent-ops-daily");
  const completed = await setup.outcomes.waitUntil((r) => r.headers["ce-type"] === T.RUN_COMPLETED);
  await setup.dev.idle();
  return (JSON.parse(completed.body.toString()) as { output: string }).output;
}

describe("an external skill under knclaw dev, as the skill runtime README sets it up", () => {
  it("verifies the delivery token and the capability token, and runs the tool once", async () => {
    const agentKey = generateSigningKey();
    const setup = await start(agentKey, agentKey.publicKeyPem);
    const output = await runOnce(setup);
    expect(output).toContain('"hits":3');
    expect(setup.calls).toEqual({ find: 1, authorized: 1 });
  });

  it("refuses a call another key signed (a skill given the wrong agent key): 403, and the tool never runs", async () => {
    const agentKey = generateSigningKey();
    const setup = await start(agentKey, generateSigningKey().publicKeyPem);
    await setup.dev.pings.fire("knclaw", "agent-ops-daily");
    expect(await setup.firstAnswer).toBe(403);
    expect(setup.calls).toEqual({ find: 0, authorized: 1 });
  });

  it("refuses a delivery whose token is for another audience: 401, before the call is read", async () => {
    const agentKey = generateSigningKey();
    const setup = await start(agentKey, agentKey.publicKeyPem, "https://another.example.com");
    await setup.dev.pings.fire("knclaw", "agent-ops-daily");
    expect(await setup.firstAnswer).toBe(401);
    expect(setup.calls.find).toBe(0);
  });
});
