import { describe, expect, it } from "vitest";
import { makeEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { compileSubscriptionsApiFilters } from "../../../eventing/filters/subscriptions-api.ts";
import { configWarnings, validateConfigValue } from "../../../knative/config/index.ts";
import { type RenderedObject, render } from "../../../knative/render/index.ts";
import { validateObjects } from "../../../knative/validate/index.ts";
import { knativeOidcServiceAccount, serviceAccountSubject } from "../../../runtime/knative-oidc.ts";
import { fullConfig, minimalConfig } from "../fixtures.ts";

/** knative/render/delivery-auth.ts and event-policies.ts: what `oidc.enabled` renders, and that it is off by default. */

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain Kubernetes JSON.
type Json = any;
const find = (objects: RenderedObject[], kind: string, name: string): Json => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found;
};
const ofKind = (objects: RenderedObject[], kind: string): Json[] => objects.filter((o) => o.kind === kind);
const ksvcs = (objects: RenderedObject[]) =>
  ofKind(objects, "Service").filter((o) => o.apiVersion.startsWith("serving"));
const podOf = (ksvc: Json) => ksvc.spec.template.spec;
const envOf = (ksvc: Json): Record<string, string> =>
  Object.fromEntries(podOf(ksvc).containers[0].env.map((e: Json) => [e.name, e.value ?? e.valueFrom]));

const NAMESPACE = "agents";
const BROKER = "eventing.knative.dev/broker/agents/main";
const audienceOf = (name: string) => `serving.knative.dev/service/${NAMESPACE}/${name}`;

function withOidc(oidc: Record<string, unknown> = { enabled: true }, base = fullConfig()): RenderedObject[] {
  return render(validateConfigValue({ ...base, oidc }));
}

/** Whether an EventPolicy's filters let an event with these attributes through, as Knative's ingress evaluates them. */
const passes = (policy: Json, attributes: Record<string, string>) =>
  compileSubscriptionsApiFilters(policy.spec.filters)(attributes);

describe("delivery authentication off (the default)", () => {
  it("renders no EventPolicy, no audience, no token and no OIDC variable, and no API server egress it did not have", () => {
    const objects = render(validateConfigValue(fullConfig()));
    expect(ofKind(objects, "EventPolicy")).toEqual([]);
    for (const trigger of ofKind(objects, "Trigger")) expect(trigger.spec.subscriber.audience).toBeUndefined();
    expect(find(objects, "Broker", "main").spec.delivery.deadLetterSink.audience).toBeUndefined();
    for (const ksvc of ksvcs(objects)) {
      expect(Object.keys(envOf(ksvc)).filter((n) => n.includes("OIDC") || n.includes("DELIVERY_AUDIENCE"))).toEqual([]);
      expect(podOf(ksvc).volumes).toBeUndefined();
    }
    const apiServer = (name: string) =>
      find(objects, "NetworkPolicy", `${name}-egress`).spec.egress.some((e: Json) =>
        e.to?.some((p: Json) => p.ipBlock?.cidr === "10.96.0.1/32"),
      );
    expect(apiServer("skill-kube")).toBe(true);
    expect(apiServer("agent-ops")).toBe(false);
  });
});

describe("delivery authentication on (oidc.enabled)", () => {
  const objects = withOidc();

  it("lets exactly the platform's senders post to the Broker, one EventPolicy each, named by their own identity", () => {
    const policies = ofKind(objects, "EventPolicy");
    // One per function the SinkBindings bind to the Broker, one per skill Trigger, one per PingSource.
    const producers = ofKind(objects, "SinkBinding").map((b) => `${b.spec.subject.name}-sends`);
    expect(producers).toEqual(
      expect.arrayContaining([
        "agent-helper-sends",
        "agent-ops-sends",
        "channel-slack-sends",
        "channel-telegram-sends",
      ]),
    );
    expect(producers).toEqual(expect.arrayContaining(["deadletter-sends", "gateway-sends"]));
    const ticks = ofKind(objects, "PingSource").map((p) => `${p.metadata.name}-ticks`);
    expect(ticks).toContain("agent-ops-morning-ticks");
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(
      [...producers, ...ticks, "skill-kube-replies", "skill-search-replies", "skill-time-replies"].sort(),
    );
    for (const policy of policies) {
      expect(policy.apiVersion).toBe("eventing.knative.dev/v1alpha1");
      expect(policy.metadata.namespace).toBe(NAMESPACE);
      expect(policy.spec.to).toEqual([
        { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "main" } },
      ]);
      expect(policy.spec.from).toHaveLength(1);
    }
    // A function sends as its own ServiceAccount, which is rendered and is the one its pods run under.
    for (const policy of policies.filter((p) => p.metadata.name.endsWith("-sends"))) {
      const name = policy.metadata.name.replace(/-sends$/, "");
      expect(policy.spec.from).toEqual([{ sub: `system:serviceaccount:${NAMESPACE}:${name}` }]);
      expect(find(objects, "ServiceAccount", name).metadata.namespace).toBe(NAMESPACE);
      expect(podOf(ksvcs(objects).find((k) => k.metadata.name === name)).serviceAccountName).toBe(name);
    }
    // A skill replies through its Trigger, a schedule ticks as its PingSource: Knative resolves their OIDC identities.
    expect(find(objects, "EventPolicy", "skill-time-replies").spec.from).toEqual([
      { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Trigger", name: "skill-time", namespace: NAMESPACE } },
    ]);
    expect(find(objects, "EventPolicy", "agent-ops-morning-ticks").spec.from).toEqual([
      {
        ref: {
          apiVersion: "sources.knative.dev/v1",
          kind: "PingSource",
          name: "agent-ops-morning",
          namespace: NAMESPACE,
        },
      },
    ]);
    // Before the Broker in apply order: with OIDC on, a Broker no policy applies to yet takes events from anyone.
    const kinds = objects.map((o) => o.kind);
    expect(kinds.lastIndexOf("EventPolicy")).toBeLessThan(kinds.indexOf("Broker"));
  });

  it("lets each sender's real events through and refuses its other types and events naming another sender", () => {
    const policy = (name: string) => find(objects, "EventPolicy", name);
    const route = { channel: "slack" as const, conversation: "C1" };
    const agent = (instance: string) => ({ source: `/knclaw/agents/${instance}` });
    const send = makeEvent(T.MESSAGE_SEND, {
      ...agent("ops"),
      data: { instance: "ops", runId: "r1", route, text: "hi", idempotencyKey: "k1" },
    });
    const completed = makeEvent(T.RUN_COMPLETED, {
      ...agent("ops"),
      data: {
        runId: "r1",
        instance: "ops",
        usage: { inputTokens: 1, outputTokens: 1 },
        costUsd: 0,
        durationMs: 1,
        turns: 1,
        toolCalls: 0,
        contractVersion: "v1",
        output: "done",
      },
    });
    expect(passes(policy("agent-ops-sends"), send.attributes)).toBe(true);
    expect(passes(policy("agent-ops-sends"), completed.attributes)).toBe(true);
    // Another instance's agent cannot speak for ops, nor ops for helper.
    expect(passes(policy("agent-helper-sends"), send.attributes)).toBe(false);
    expect(passes(policy("agent-ops-sends"), { ...send.attributes, knclawinstance: "helper" })).toBe(false);

    const received = makeEvent(T.MESSAGE_RECEIVED, {
      source: "/knclaw/channels/slack",
      data: {
        instance: "ops",
        channel: "slack",
        messageId: "m1",
        conversation: "C1",
        sender: { channel: "slack", id: "U1" },
        text: "hello",
        replyTo: route,
        receivedAt: new Date().toISOString(),
      },
    });
    const decided = makeEvent(T.APPROVAL_DECIDED, {
      source: "/knclaw/channels/slack",
      data: {
        approvalId: "a1",
        runId: "r1",
        callId: "c1",
        instance: "ops",
        digest: `sha256:${"0".repeat(64)}`,
        decision: "approve",
        decidedBy: { channel: "slack", id: "U1" },
      },
    });
    expect(passes(policy("channel-slack-sends"), received.attributes)).toBe(true);
    expect(passes(policy("channel-slack-sends"), decided.attributes)).toBe(true);
    // The Telegram adapter cannot post Slack messages, and no adapter can speak for an agent or the gateway.
    expect(passes(policy("channel-telegram-sends"), received.attributes)).toBe(false);
    expect(passes(policy("channel-slack-sends"), send.attributes)).toBe(false);
    expect(passes(policy("channel-slack-sends"), { ...decided.attributes, source: "/knclaw/gateway" })).toBe(false);

    const requested = makeEvent(T.RUN_REQUESTED, {
      source: "/knclaw/gateway",
      data: { instance: "ops", runId: "r2", task: "do" },
    });
    expect(passes(policy("gateway-sends"), requested.attributes)).toBe(true);
    expect(passes(policy("gateway-sends"), { ...completed.attributes, source: "/knclaw/gateway" })).toBe(false);
    expect(passes(policy("agent-ops-sends"), { ...requested.attributes, source: "/knclaw/agents/ops" })).toBe(false);

    // A skill's reply as the skill runtime makes it (its data's shape is the skill contract's business, not the policy's).
    const tool = {
      attributes: {
        specversion: "1.0",
        id: "c1",
        type: T.TOOL_COMPLETED,
        source: "/knclaw/skills/time",
        knclawinstance: "ops",
        knclawrun: "r1",
      },
    };
    expect(passes(policy("skill-time-replies"), tool.attributes)).toBe(true);
    expect(passes(policy("skill-kube-replies"), tool.attributes)).toBe(false);
    expect(passes(policy("skill-time-replies"), { ...send.attributes, source: "/knclaw/skills/time" })).toBe(false);

    const tick = { specversion: "1.0", id: "t", source: "/apis/v1/namespaces/agents/pingsources/agent-ops-morning" };
    const ping = { ...tick, type: T.PING, knclawinstance: "ops", knclawschedule: "morning" };
    expect(passes(policy("agent-ops-morning-ticks"), ping)).toBe(true);
    expect(passes(policy("agent-ops-morning-ticks"), { ...ping, knclawinstance: "helper" })).toBe(false);
    expect(passes(policy("agent-ops-morning-ticks"), { ...ping, knclawschedule: "evening" })).toBe(false);

    // The deadletter function replays what it kept, as it was: every type, whoever produced it.
    for (const event of [send, completed, received, decided, requested, tool]) {
      expect(passes(policy("deadletter-sends"), event.attributes)).toBe(true);
    }
  });

  it("gives every Trigger subscriber and the dead-letter sink the audience of the function they deliver to, and the function requires it", () => {
    for (const trigger of ofKind(objects, "Trigger")) {
      const subscriber = trigger.spec.subscriber;
      if (subscriber.uri !== undefined) continue;
      expect(subscriber.audience).toBe(audienceOf(subscriber.ref.name));
      const ksvc = find(objects, "Service", subscriber.ref.name);
      expect(envOf(ksvc).KNCLAW_DELIVERY_AUDIENCE).toBe(subscriber.audience);
      if (trigger.spec.delivery !== undefined) {
        expect(trigger.spec.delivery.deadLetterSink.audience).toBe(audienceOf("deadletter"));
      }
    }
    expect(find(objects, "Broker", "main").spec.delivery.deadLetterSink).toEqual({
      ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "deadletter" },
      audience: audienceOf("deadletter"),
    });
    expect(envOf(find(objects, "Service", "deadletter")).KNCLAW_DELIVERY_AUDIENCE).toBe(audienceOf("deadletter"));
    // The memory service takes no deliveries: its API has its own tokens.
    expect(envOf(find(objects, "Service", "memory")).KNCLAW_DELIVERY_AUDIENCE).toBeUndefined();
    // An external skill's URL gets the audience its config names, and none otherwise.
    expect(find(objects, "Trigger", "skill-search").spec.subscriber).toEqual({
      uri: "https://search.example.com/knclaw",
    });
    const config = fullConfig() as Json;
    config.skills.search.external.audience = "https://search.example.com";
    expect(find(withOidc(undefined, config), "Trigger", "skill-search").spec.subscriber).toEqual({
      uri: "https://search.example.com/knclaw",
      audience: "https://search.example.com",
    });
  });

  it("lets each function take tokens only from the Triggers that deliver to it, the dead-letter sink from every Trigger", () => {
    // Knative's names, shortened past 63 characters (runtime/knative-oidc.ts, tested on Knative's own vectors).
    const identity = (trigger: string) =>
      serviceAccountSubject(
        NAMESPACE,
        knativeOidcServiceAccount({ group: "eventing.knative.dev", kind: "Trigger", name: trigger }),
      );
    const triggers = ofKind(objects, "Trigger");
    const sendersOf = (name: string) =>
      envOf(find(objects, "Service", name))
        .KNCLAW_DELIVERY_SENDERS?.split(",")
        .sort();
    for (const ksvc of ksvcs(objects)) {
      const name = ksvc.metadata.name;
      if (name === "memory") {
        expect(sendersOf(name)).toBeUndefined();
        continue;
      }
      const expected =
        name === "deadletter" ? triggers : triggers.filter((trigger) => trigger.spec.subscriber.ref?.name === name);
      expect(expected.length).toBeGreaterThan(0);
      expect(sendersOf(name)).toEqual(expected.map((trigger) => identity(trigger.metadata.name)).sort());
    }
    expect(sendersOf("channel-slack")).toEqual(
      ["approval-requested", "approval-resolved", "message-send"].map((suffix) => identity(`channel-slack-${suffix}`)),
    );
    expect(sendersOf("agent-ops")).toContain(identity("agent-ops-tool-completed"));
    expect(sendersOf("agent-ops")).not.toContain(identity("gateway-run-completed"));
  });

  it("mounts a token for the Broker's audience where a function sends, and the API server's credentials where it verifies", () => {
    const senders = ofKind(objects, "SinkBinding").map((b) => b.spec.subject.name);
    expect(senders).toEqual(expect.arrayContaining(["agent-ops", "channel-slack", "gateway", "deadletter"]));
    for (const ksvc of ksvcs(objects)) {
      const env = envOf(ksvc);
      const pod = podOf(ksvc);
      const sources = (pod.volumes ?? []).flatMap((v: Json) => v.projected.sources);
      const mounts = pod.containers[0].volumeMounts ?? [];
      expect(mounts.every((m: Json) => m.readOnly === true)).toBe(true);
      const file = (path: string) => `${mounts[0]?.mountPath}/${path}`;
      // The functions the SinkBindings bind to the Broker post to it; skills answer by replying to the delivery.
      if (senders.includes(ksvc.metadata.name)) {
        expect(sources).toContainEqual({
          serviceAccountToken: { audience: BROKER, expirationSeconds: 3600, path: "broker-token" },
        });
        expect(env.KNCLAW_OIDC_TOKEN_FILE).toBe(file("broker-token"));
      } else {
        expect(env.KNCLAW_OIDC_TOKEN_FILE).toBeUndefined();
        expect(sources.some((s: Json) => s.serviceAccountToken?.audience !== undefined)).toBe(false);
      }
      if (ksvc.metadata.name === "memory") continue;
      expect(env.KNCLAW_OIDC_ISSUER).toBe("https://kubernetes.default.svc.cluster.local");
      expect(env.KNCLAW_OIDC_JWKS_URL).toBe("https://kubernetes.default.svc/openid/v1/jwks");
      expect(sources).toContainEqual({ serviceAccountToken: { expirationSeconds: 3600, path: "api-token" } });
      expect(sources).toContainEqual({
        configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] },
      });
      expect(env.KNCLAW_OIDC_JWKS_TOKEN_FILE).toBe(file("api-token"));
      expect(env.KNCLAW_OIDC_JWKS_CA_FILE).toBe(file("ca.crt"));
      // The API server is reached for the keys, and nothing else is mounted: no default token.
      expect(pod.automountServiceAccountToken).toBe(ksvc.metadata.name === "skill-kube" ? undefined : false);
      const egress = find(objects, "NetworkPolicy", `${ksvc.metadata.name}-egress`).spec.egress;
      expect(egress).toContainEqual({
        to: [{ ipBlock: { cidr: "10.96.0.1/32" } }],
        ports: [
          { port: 443, protocol: "TCP" },
          { port: 6443, protocol: "TCP" },
        ],
      });
    }
  });

  it("takes the issuer, a provider's public key set and the token lifetime from the config", () => {
    const custom = withOidc(
      {
        enabled: true,
        issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        jwksUrl: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/keys",
        tokenExpirationSeconds: 900,
      },
      minimalConfig(),
    );
    const agent = find(custom, "Service", "agent-ops");
    expect(envOf(agent)).toMatchObject({
      KNCLAW_OIDC_ISSUER: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
      KNCLAW_OIDC_JWKS_URL: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/keys",
    });
    expect(envOf(agent).KNCLAW_OIDC_JWKS_TOKEN_FILE).toBeUndefined();
    // No API server credentials for a public key set: only the broker token, with the configured lifetime.
    expect(podOf(agent).volumes[0].projected.sources).toEqual([
      {
        serviceAccountToken: {
          audience: "eventing.knative.dev/broker/knclaw/default",
          expirationSeconds: 900,
          path: "broker-token",
        },
      },
    ]);
    // Without an issuer, validate says which one the functions will accept.
    const warned = (oidc: Record<string, unknown>) =>
      configWarnings(validateConfigValue({ ...minimalConfig(), oidc })).filter((w) => w.rule === "oidc-issuer");
    expect(warned({ enabled: true }).map((w) => w.path)).toEqual(["oidc.issuer"]);
    expect(warned({ enabled: true, issuer: "https://kubernetes.default.svc" })).toEqual([]);
    expect(warned({ enabled: false })).toEqual([]);
    const skill = find(custom, "Service", "skill-time");
    expect(podOf(skill).volumes).toBeUndefined();
    const policy = find(custom, "NetworkPolicy", "skill-time-egress");
    expect(policy.metadata.annotations["knclaw.dev/egress-hosts"]).toBe("oidc.eks.eu-west-1.amazonaws.com");
    expect(policy.spec.egress.some((e: Json) => e.ports?.some((p: Json) => p.port === 6443))).toBe(false);
  });

  it("validates: schemas, Knative's webhook rules and knclaw's delivery checks find nothing but the external skill without an audience", () => {
    const problems = validateObjects(objects, {
      checkReferences: true,
      authenticationOidc: true,
      deliveryAuth: true,
    });
    expect(problems.filter((p) => p.severity === "error")).toEqual([]);
    expect(problems.map((p) => `${p.object} ${p.path} ${p.rule}`)).toEqual([
      `Trigger/${NAMESPACE}/skill-search spec.subscriber delivery-auth-audience`,
    ]);
  });
});
