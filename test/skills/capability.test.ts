import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../../eventing/catalog/index.ts";
import { TOOL_REQUESTED } from "../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { eventSigner } from "../../eventing/trust/event-signature.ts";
import type { FunctionApp } from "../../runtime/function.ts";
import { generateSigningKey, parsePrivateKey } from "../../runtime/keys.ts";
import { parseAllowList } from "../../skills/http/allow-list.ts";
import { createHttpSkill } from "../../skills/http/definition.ts";
import { createApp as createKubernetesApp } from "../../skills/kubernetes/app.ts";
import { argumentsDigest } from "../../skills/runtime/canonical-json.ts";
import { signCapability } from "../../skills/runtime/capability.ts";
import { serveSkill } from "../../skills/runtime/serve-skill.ts";
import * as k8s from "../fakes/kubernetes/objects.ts";
import { type FakeKubernetes, startFakeKubernetes } from "../fakes/kubernetes/server.ts";
import { roleKeys } from "../support/event-keys.ts";
import { postToolRequest } from "./support/call.ts";
import { type HttpTarget, startHttpTarget } from "./support/http-target.ts";

/**
 * The built-in skills behind the skill runtime: a call acts only with a capability token that verifies and is bound
 * to this run, instance, skill, tool, call and exact arguments, and has not expired. Every refusal is checked against
 * the outside world: the fake API server and the HTTP target must not have been touched.
 */
const assistantKey = generateSigningKey();
const assistantSigning = parsePrivateKey(assistantKey.privateKeyPem);
const intruderSigning = parsePrivateKey(generateSigningKey().privateKeyPem);
const agentKeys = JSON.stringify({ assistant: assistantKey.publicKeyPem });

let fake: FakeKubernetes;
let target: HttpTarget;
let kubernetes: FunctionApp;
let http: FunctionApp;
let sequence = 0;

beforeAll(async () => {
  fake = await startFakeKubernetes();
  fake.addToken("skill-token", "system:serviceaccount:knclaw:skill-kubernetes");
  fake.allowImpersonation("system:serviceaccount:knclaw:skill-kubernetes", "knclaw", "skill-kubernetes-assistant");
  fake.grant({
    user: "system:serviceaccount:knclaw:skill-kubernetes-assistant",
    namespace: "shop",
    group: "apps",
    resources: ["deployments/scale"],
    verbs: ["get", "patch"],
  });
  fake.add("deployments", k8s.deployment("shop", "web", { replicas: 2 }));
  kubernetes = await createKubernetesApp({
    KNCLAW_KUBECONFIG: fake.kubeconfig("skill-token"),
    KNCLAW_NAMESPACE: "knclaw",
    KNCLAW_AGENT_KEYS: agentKeys,
    KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/kubernetes").privateKeyPem,
    NODE_ENV: "test",
  });
  target = await startHttpTarget({
    "/hook": (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("posted"),
  });
  http = serveSkill(
    createHttpSkill({
      allowList: parseAllowList([`127.0.0.1:${target.port}`]),
      unsafeTestAllowance: [{ address: "127.0.0.1", port: target.port }],
      timeoutMs: 5_000,
      maxResponseBytes: 65_536,
      maxRedirects: 0,
      maxTextBytes: 65_536,
    }),
    {
      env: {
        KNCLAW_AGENT_KEYS: agentKeys,
        KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/http").privateKeyPem,
        NODE_ENV: "test",
      },
    },
  );
});

afterAll(async () => {
  await fake.close();
  await target.close();
});

interface CallSpec {
  skill: string;
  tool: string;
  args: unknown;
  instance?: string;
  /** What the token says, where it differs from the call. */
  token?: {
    skill?: string;
    tool?: string;
    args?: unknown;
    instance?: string;
    ttlSeconds?: number;
    now?: number;
    key?: "intruder";
  };
  omitToken?: boolean;
}

function toolRequested(spec: CallSpec): CloudEvent {
  sequence += 1;
  const callId = `call-${sequence}`;
  const instance = spec.instance ?? "assistant";
  const claims = spec.token ?? {};
  const token = signCapability(
    {
      runId: "run-7",
      instance: claims.instance ?? instance,
      skill: claims.skill ?? spec.skill,
      tool: claims.tool ?? spec.tool,
      callId,
      digest: argumentsDigest(claims.args ?? spec.args),
    },
    claims.key === "intruder" ? intruderSigning : assistantSigning,
    { ttlSeconds: claims.ttlSeconds ?? 300, ...(claims.now !== undefined ? { now: claims.now } : {}) },
  );
  const data: Record<string, unknown> = {
    runId: "run-7",
    callId,
    instance,
    skill: spec.skill,
    tool: spec.tool,
    arguments: spec.args,
    token,
  };
  // Every call travels signed by its instance's agent, with the agent's own key: these tests are about the token.
  const asAgent = eventSigner(`agent/${instance}`, assistantSigning);
  if (!spec.omitToken) {
    return asAgent.sign(
      makeEvent(TOOL_REQUESTED, { id: `req-${sequence}`, source: "/agents/assistant", data: data as never }),
    );
  }
  // A tool.requested without a token cannot even be built through the catalog; send the bytes as a sender could.
  delete data.token;
  return asAgent.sign({
    attributes: {
      specversion: "1.0",
      id: `req-${sequence}`,
      source: "/agents/assistant",
      type: TOOL_REQUESTED,
      datacontenttype: "application/json",
      knclawinstance: instance,
      knclawrun: "run-7",
      knclawskill: spec.skill,
    },
    data: new TextEncoder().encode(JSON.stringify(data)),
  });
}

const call = (app: FunctionApp, spec: CallSpec) => postToolRequest(app, toolRequested(spec));

const scale = { skill: "kubernetes", tool: "scale_deployment", args: { namespace: "shop", name: "web", replicas: 4 } };
const post = () => ({ skill: "http", tool: "post", args: { url: `${target.origin}/hook`, json: { deploy: "now" } } });

describe("capability tokens on the built-in skills", () => {
  it("a valid token acts: the kubernetes skill scales, the http skill posts", async () => {
    const scaled = await call(kubernetes, scale);
    expect(scaled.completed!.outcome).toEqual({
      ok: true,
      result: { deployment: "web", namespace: "shop", previousReplicas: 2, replicas: 4 },
    });
    expect(fake.requests.filter((r) => r.method === "PATCH")).toHaveLength(1);
    const posted = await call(http, post());
    expect(posted.completed!.outcome).toMatchObject({ ok: true, result: { status: 200, text: "posted" } });
    expect(target.seen).toHaveLength(1);
  });

  const refusals: Array<[string, (base: CallSpec) => CallSpec, string]> = [
    ["expired", (base) => ({ ...base, token: { now: Date.now() - 3_600_000, ttlSeconds: 60 } }), "AuthExpired"],
    [
      "for another skill",
      (base) => ({ ...base, token: { skill: base.skill === "http" ? "kubernetes" : "http" } }),
      "PermissionDenied",
    ],
    ["for another tool", (base) => ({ ...base, token: { tool: "get" } }), "PermissionDenied"],
    [
      "for other arguments",
      (base) => ({ ...base, token: { args: { ...(base.args as object), replicas: 1, url: "x" } } }),
      "PermissionDenied",
    ],
    ["for another instance", (base) => ({ ...base, token: { instance: "ops" } }), "PermissionDenied"],
    ["signed by an untrusted key", (base) => ({ ...base, token: { key: "intruder" } }), "PermissionDenied"],
  ];

  for (const [what, mutate, errorClass] of refusals) {
    it(`a token ${what} is refused and nothing happens`, async () => {
      const k8sBefore = fake.requests.length;
      const httpBefore = target.seen.length;
      const scaled = await call(kubernetes, mutate(scale));
      const posted = await call(http, mutate(post()));
      for (const result of [scaled, posted]) {
        expect(result.status).toBe(200);
        expect(result.completed!.outcome).toMatchObject({ ok: false, error: { class: errorClass } });
      }
      expect(fake.requests.length).toBe(k8sBefore);
      expect(target.seen.length).toBe(httpBefore);
    });
  }

  it("a call sent to the wrong skill is refused by that skill", async () => {
    const before = fake.requests.length;
    const misrouted = await call(kubernetes, { ...post() });
    expect(misrouted.completed!.outcome).toMatchObject({ ok: false, error: { class: "PermissionDenied" } });
    expect(fake.requests.length).toBe(before);
  });

  it("a missing token is refused before anything runs", async () => {
    const k8sBefore = fake.requests.length;
    const httpBefore = target.seen.length;
    expect((await call(kubernetes, { ...scale, omitToken: true })).status).toBe(400);
    expect((await call(http, { ...post(), omitToken: true })).status).toBe(400);
    expect(fake.requests.length).toBe(k8sBefore);
    expect(target.seen.length).toBe(httpBefore);
  });

  it("valid tokens over arguments the tool refuses still do nothing", async () => {
    const before = fake.requests.length;
    const invalid = await call(kubernetes, { ...scale, args: { namespace: "shop", name: "web", replicas: -3 } });
    expect(invalid.completed!.outcome).toMatchObject({ ok: false, error: { class: "ValidationFailed" } });
    expect(fake.requests.length).toBe(before);
  });
});
