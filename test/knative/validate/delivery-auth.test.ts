import { describe, expect, it } from "vitest";
import { validateConfigValue } from "../../../knative/config/index.ts";
import { type RenderedObject, render } from "../../../knative/render/index.ts";
import { type Problem, validateObjects } from "../../../knative/validate/index.ts";
import { fullConfig } from "../fixtures.ts";

/**
 * knclaw validate on delivery authentication: Knative's EventPolicy webhook rules, Serving's rules for the projected
 * token volumes, and knclaw's own checks that the platform's senders, EventPolicies, tokens and audiences agree.
 */

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are plain JSON here.
type Json = any;

const policy = (spec: Json, metadata: Json = {}): Json => ({
  apiVersion: "eventing.knative.dev/v1alpha1",
  kind: "EventPolicy",
  metadata: { name: "p", namespace: "ns", ...metadata },
  spec,
});
const BROKER_REF = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "b" };

const oidcOn = { authenticationOidc: true };
const problemsOf = (object: Json, options = oidcOn) =>
  validateObjects([object], options).map((p) => `${p.severity} ${p.path} ${p.rule}: ${p.message}`);
const errorRules = (problems: Problem[]) => problems.filter((p) => p.severity === "error").map((p) => p.rule);

describe("EventPolicy (Knative's webhook rules and field types)", () => {
  it("takes a policy naming subjects, a source by reference, the Broker and filters", () => {
    const valid = policy({
      to: [
        { ref: BROKER_REF },
        { selector: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", matchLabels: { app: "x" } } },
      ],
      from: [
        { sub: "system:serviceaccount:ns:sender" },
        { sub: "system:serviceaccount:ns:other-*" },
        { ref: { apiVersion: "sources.knative.dev/v1", kind: "PingSource", name: "tick", namespace: "ns" } },
      ],
      filters: [{ exact: { type: "dev.knclaw.run.requested" } }, { cesql: "source LIKE '/knclaw/%'" }],
    });
    expect(problemsOf(valid)).toEqual([]);
  });

  it("is refused while the cluster has authentication-oidc off, as Knative's webhook refuses it", () => {
    expect(problemsOf(policy({ from: [{ sub: "x" }] }), { authenticationOidc: false })).toEqual([
      "error  oidc-feature: oidc-authentication feature not enabled: Knative refuses EventPolicies unless config-features has authentication-oidc: enabled",
    ]);
    // Knative's default for the flag is off.
    expect(validateObjects([policy({ from: [{ sub: "x" }] })]).map((p) => p.rule)).toEqual(["oidc-feature"]);
  });

  it("refuses from entries with neither or both of ref and sub, a '*' not at the end, and references without a name", () => {
    expect(
      problemsOf(
        policy({
          from: [
            {},
            { sub: "" },
            { sub: "a", ref: { apiVersion: "v1", kind: "ServiceAccount", name: "a" } },
            { sub: "system:*:x" },
            { ref: { kind: "PingSource" } },
          ],
        }),
      ),
    ).toEqual([
      "error spec.from[0] event-policy-from: expected exactly one, got neither: ref, sub",
      "error spec.from[1] event-policy-from: expected exactly one, got neither: ref, sub",
      "error spec.from[2] event-policy-from: expected exactly one, got both: ref, sub",
      "error spec.from[3].sub event-policy-sub: invalid value: system:*:x: '*' is only allowed as suffix",
      "error spec.from[4].ref.apiVersion reference: missing field(s): apiVersion",
      "error spec.from[4].ref.name reference: missing field(s): name",
    ]);
  });

  it("refuses to entries with neither or both of ref and selector, and a namespace in to.ref, which the CRD does not have", () => {
    expect(
      problemsOf(
        policy({
          to: [
            {},
            { ref: BROKER_REF, selector: { apiVersion: "eventing.knative.dev/v1", kind: "Broker" } },
            { ref: { ...BROKER_REF, namespace: "elsewhere" } },
            { selector: { kind: "Broker", matchExpressions: [{ key: "app", operator: "Is" }] } },
          ],
        }),
      ),
    ).toEqual([
      "error spec.to[0] event-policy-to: expected exactly one, got neither: ref, selector",
      "error spec.to[1] event-policy-to: expected exactly one, got both: ref, selector",
      'error spec.to[2].ref.namespace unknown-field: unknown field "namespace" (the API server would drop it; known: apiVersion, kind, name)',
      "error spec.to[3].selector.apiVersion reference: missing field(s): apiVersion",
      "error spec.to[3].selector.matchExpressions[0].operator selector: must be one of In, NotIn, Exists, DoesNotExist",
    ]);
  });

  it("checks filters as a Trigger's, and refuses a misspelled field that the API server would silently drop", () => {
    const problems = problemsOf(
      policy({
        from: [{ sub: "x" }],
        filter: [{ exact: { type: "a" } }],
        filters: [
          { exact: { type: "a", source: "b" } },
          { exact: { type: "a" }, prefix: { source: "/" } },
          { cesql: "type =" },
        ],
      }),
    );
    expect(problems[0]).toBe(
      'error spec.filter unknown-field: unknown field "filter" (the API server would drop it; known: to, from, filters)',
    );
    expect(problems.slice(1).map((p) => p.split(":")[0])).toEqual([
      "error spec.filters[0].exact trigger-single-attribute",
      "error spec.filters[1] trigger-one-dialect",
      "error spec.filters[2].cesql cesql-syntax",
    ]);
  });
});

describe("projected volumes in a Knative Service (Serving's webhook rules)", () => {
  const service = (volumes: Json[]): Json => ({
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: { name: "fn", namespace: "ns" },
    spec: {
      template: {
        spec: {
          volumes,
          containers: [
            {
              image: `ghcr.io/x/fn@sha256:${"a".repeat(64)}`,
              volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/var/run/${v.name}`, readOnly: true })),
            },
          ],
        },
      },
    },
  });

  it("takes ServiceAccount tokens, ConfigMaps and Secrets in a projected volume with no feature flag", () => {
    const volume = {
      name: "oidc",
      projected: {
        sources: [
          { serviceAccountToken: { audience: "eventing.knative.dev/broker/ns/b", expirationSeconds: 3600, path: "t" } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          { secret: { name: "s" } },
        ],
      },
    };
    expect(problemsOf(service([volume]))).toEqual([]);
  });

  it("refuses token fields Knative masks, a token without a path, several sources in one, and flagged volume kinds", () => {
    expect(
      problemsOf(
        service([
          {
            name: "oidc",
            projected: {
              sources: [
                { serviceAccountToken: { audience: "a", expirationSeconds: 600 } },
                { serviceAccountToken: { path: "t", extra: true } },
                { configMap: { items: [{ key: "k" }] }, secret: { name: "s" } },
                { clusterTrustBundle: { name: "b", path: "p" } },
              ],
            },
          },
          { name: "data", persistentVolumeClaim: { claimName: "c" } },
          { name: "info", downwardAPI: { items: [] } },
        ]),
      ).map((p) => p.replace(/^error spec\.template\.spec\.volumes/, "")),
    ).toEqual([
      // The Kubernetes schema says so too.
      "[0].projected.sources[0].serviceAccountToken schema: must have required property path (path)",
      "[0].projected.sources[2].configMap.items[0] schema: must have required property path (path)",
      "[0].projected.sources[0].serviceAccountToken.path required: missing field(s): path",
      "[0].projected.sources[1].serviceAccountToken.extra serving-volume: must not set the field(s): extra",
      "[0].projected.sources[2] serving-volume: expected exactly one, got both: configMap, secret",
      "[0].projected.sources[2].configMap.name required: missing field(s): name",
      "[0].projected.sources[2].configMap.items[0].path required: missing field(s): path",
      "[0].projected.sources[3].clusterTrustBundle serving-volume: must not set the field(s): clusterTrustBundle",
      "[1].persistentVolumeClaim serving-volume: persistentVolumeClaim volumes need the kubernetes.podspec-persistent-volume-claim feature flag (disabled by default)",
      "[2].downwardAPI serving-volume: must not set the field(s): downwardAPI",
    ]);
  });
});

describe("knclaw's delivery checks over a rendered platform", () => {
  const rendered = (): Json[] =>
    structuredClone(render(validateConfigValue({ ...fullConfig(), oidc: { enabled: true } })) as RenderedObject[]);
  const check = (objects: Json[]) =>
    validateObjects(objects, { checkReferences: true, authenticationOidc: true, deliveryAuth: true });
  const find = (objects: Json[], kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);
  const without = (objects: Json[], kind: string, name: string) =>
    objects.filter((o) => !(o.kind === kind && o.metadata.name === name));
  const errors = (problems: Problem[]) =>
    problems.filter((p) => p.severity === "error").map((p) => `${p.object}: ${p.message}`);
  const warnings = (problems: Problem[]) =>
    problems
      .filter((p) => p.severity === "warning" && p.rule !== "delivery-auth-audience")
      .map((p) => `${p.object}: ${p.message}`);

  it("finds a sender no policy names: its events would be refused (403)", () => {
    const objects = without(
      without(rendered(), "EventPolicy", "agent-ops-sends"),
      "EventPolicy",
      "agent-ops-morning-ticks",
    );
    expect(errors(check(objects))).toEqual([
      "Service/agents/agent-ops: agent ops cannot send: no EventPolicy applying to the Broker names system:serviceaccount:agents:agent-ops",
      // A PingSource sends as the OIDC identity Knative makes for it.
      "PingSource/agents/agent-ops-morning: schedule morning of ops cannot send: no EventPolicy applying to the Broker names system:serviceaccount:agents:agent-ops-morning-oidc-sources.knative.dev-pingsource",
    ]);
  });

  it("finds a policy that lets a sender send what it never sends, or for another instance, or under another source", () => {
    const objects = rendered();
    find(objects, "EventPolicy", "channel-slack-sends").spec.filters = [];
    const agent = find(objects, "EventPolicy", "agent-ops-sends");
    agent.spec.filters = agent.spec.filters.filter((f: Json) => f.exact?.knclawinstance === undefined);
    const found = errors(check(objects));
    expect(found).toContain(
      "Service/agents/channel-slack: EventPolicy channel-slack-sends lets channel adapter slack send dev.knclaw.run.completed, which it never sends",
    );
    expect(found).toContain(
      "Service/agents/channel-slack: EventPolicy channel-slack-sends lets channel adapter slack send dev.knclaw.message.received with knclawchannel other than slack: anyone's",
    );
    expect(found).toContain(
      "Service/agents/agent-ops: EventPolicy agent-ops-sends lets agent ops send dev.knclaw.run.completed with knclawinstance other than ops: anyone's",
    );
    expect(
      found.every(
        (line) => line.startsWith("Service/agents/channel-slack") || line.startsWith("Service/agents/agent-ops"),
      ),
    ).toBe(true);
  });

  it("finds a policy that refuses what a sender needs", () => {
    const objects = rendered();
    find(objects, "EventPolicy", "gateway-sends").spec.filters = [{ exact: { type: "dev.knclaw.run.requested" } }];
    expect(errors(check(objects))).toEqual([
      "Service/agents/gateway: EventPolicy gateway-sends refuses the dev.knclaw.approval.decided events gateway sends",
      // Without its source pinned, anyone's run.requested is taken for the gateway's.
      "Service/agents/gateway: EventPolicy gateway-sends lets gateway send dev.knclaw.run.requested with source other than /knclaw/gateway: anyone's",
    ]);
  });

  it("refuses a knclaw policy admitting anyone else or protecting the whole namespace, and warns about one of your own", () => {
    const objects = rendered();
    const gateway = find(objects, "EventPolicy", "gateway-sends");
    gateway.spec.from.push({ sub: "system:serviceaccount:agents:intruder" }, { sub: "system:serviceaccount:agents:*" });
    delete find(objects, "EventPolicy", "deadletter-sends").spec.to;
    const mine = policy(
      { to: [{ ref: { ...BROKER_REF, name: "main" } }], from: [{ sub: "system:serviceaccount:agents:ci" }] },
      { name: "zz-ci", namespace: "agents" },
    );
    const problems = check([...objects, mine]);
    expect(errors(problems)).toContain(
      "EventPolicy/agents/gateway-sends: admits system:serviceaccount:agents:intruder, which is none of the platform's senders",
    );
    expect(errors(problems)).toContain(
      "EventPolicy/agents/gateway-sends: system:serviceaccount:agents:* admits every ServiceAccount whose name starts so, not only the platform's",
    );
    // The wildcard also makes gateway-sends the first policy naming the senders whose policies sort after it, so the
    // ingress would judge them by it alone and refuse what they send.
    expect(errors(problems)).toContain(
      "Trigger/agents/skill-time: EventPolicy gateway-sends refuses the dev.knclaw.tool.completed events skill time's replies sends",
    );
    expect(errors(problems)).toContain(
      "EventPolicy/agents/deadletter-sends: applies to every Broker, Channel and sink of the namespace, not only the platform's Broker",
    );
    expect(warnings(problems)).toContain(
      "EventPolicy/agents/zz-ci: admits system:serviceaccount:agents:ci, which is none of the platform's senders",
    );
  });

  it("warns that a sender named by two policies is judged by the first alone, which then decides", () => {
    const objects = rendered();
    const narrow = policy(
      {
        to: [{ ref: { ...BROKER_REF, name: "main" } }],
        from: [{ sub: "system:serviceaccount:agents:agent-helper" }],
        filters: [{ exact: { type: "dev.knclaw.message.send" } }],
      },
      { name: "aa-narrow", namespace: "agents" },
    );
    const problems = check([...objects, narrow]);
    expect(warnings(problems)).toContain(
      "Service/agents/agent-helper: agent helper is named by EventPolicies aa-narrow, agent-helper-sends: Knative judges it by aa-narrow alone",
    );
    expect(errors(problems)).toContain(
      "Service/agents/agent-helper: EventPolicy aa-narrow refuses the dev.knclaw.run.completed events agent helper sends",
    );
  });

  it("warns when no policy applies to the Broker: the cluster's default authorization mode decides", () => {
    const objects = rendered().filter((o) => o.kind !== "EventPolicy");
    const problems = check(objects);
    expect(errors(problems)).toEqual([]);
    expect(warnings(problems)).toEqual([
      "Broker/agents/main: no EventPolicy applies to this Broker: the cluster's default-authorization-mode decides who may send (allow-same-namespace unless changed: any ServiceAccount of the namespace, any event)",
    ]);
  });

  it("finds a sender without a token for the Broker's audience", () => {
    const objects = rendered();
    const gateway = find(objects, "Service", "gateway").spec.template.spec;
    gateway.containers[0].env = gateway.containers[0].env.filter((e: Json) => e.name !== "KNCLAW_OIDC_TOKEN_FILE");
    const agent = find(objects, "Service", "agent-ops").spec.template.spec;
    agent.volumes[0].projected.sources[0].serviceAccountToken.audience = "eventing.knative.dev/broker/agents/other";
    expect(errors(check(objects)).sort()).toEqual([
      "Service/agents/agent-ops: KNCLAW_OIDC_TOKEN_FILE (/var/run/secrets/knclaw/oidc/broker-token) is no projected ServiceAccount token for the Broker's audience eventing.knative.dev/broker/agents/main",
      "Service/agents/gateway: sends to the Broker with no token (KNCLAW_OIDC_TOKEN_FILE is not set): its ingress answers 401",
    ]);
  });

  it("warns about a subscriber without an audience and refuses one the function would not accept", () => {
    const objects = rendered();
    delete find(objects, "Trigger", "gateway-run-completed").spec.subscriber.audience;
    find(objects, "Trigger", "skill-time").spec.subscriber.audience = "serving.knative.dev/service/agents/skill-kube";
    const problems = check(objects).filter((p) => p.rule === "delivery-auth-audience");
    expect(problems.map((p) => `${p.severity} ${p.object} ${p.path}: ${p.message}`)).toEqual([
      "error Trigger/agents/gateway-run-completed spec.subscriber.audience: gateway accepts tokens for serving.knative.dev/service/agents/gateway only, the broker would present none: every delivery refused (401)",
      "warning Trigger/agents/skill-search spec.subscriber: no audience: with authentication-oidc on, the broker presents no token here, so the receiver cannot tell it from anyone else",
      "error Trigger/agents/skill-time spec.subscriber.audience: skill-time accepts tokens for serving.knative.dev/service/agents/skill-time only, the broker would present serving.knative.dev/service/agents/skill-kube: every delivery refused (401)",
    ]);
  });

  it("runs only when asked: a platform rendered without OIDC is not judged by it", () => {
    const objects = render(validateConfigValue(fullConfig()));
    expect(validateObjects(objects, { checkReferences: true }).filter((p) => p.severity === "error")).toEqual([]);
    expect(errorRules(validateObjects(objects, { checkReferences: true }))).toEqual([]);
  });
});
