import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfig, validateConfigValue } from "../../knative/config/index.ts";
import { manifestFiles, type RenderedObject, render, toYaml } from "../../knative/render/index.ts";
import { fullConfig, minimalConfig } from "./fixtures.ts";

const find = (objects: RenderedObject[], kind: string, name: string): any => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(`no ${kind}/${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
};
const envOf = (ksvc: any): Record<string, any> =>
  Object.fromEntries(ksvc.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe("render", () => {
  const defaults = render(loadConfig());
  const full = render(validateConfigValue(fullConfig()));

  it("is deterministic: same config, same objects, whatever the key order", () => {
    expect(toYaml(render(loadConfig()))).toBe(toYaml(defaults));
    const reversed = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(reversed);
      if (value && typeof value === "object") {
        return Object.fromEntries(
          Object.entries(value)
            .reverse()
            .map(([k, v]) => [k, reversed(v)]),
        );
      }
      return value;
    };
    expect(toYaml(render(validateConfigValue(reversed(fullConfig()))))).toBe(toYaml(full));
  });

  it("orders objects for apply: namespace and identities first, sources last", () => {
    const kinds = defaults.map((o) => o.kind);
    expect(kinds[0]).toBe("Namespace");
    expect(kinds.indexOf("ServiceAccount")).toBeLessThan(kinds.indexOf("Service"));
    expect(kinds.lastIndexOf("Service")).toBeLessThan(kinds.indexOf("Trigger"));
    expect(kinds[kinds.length - 1]).toBe("PingSource");
  });

  it("renders a locked-down ksvc per function with entry annotation and component label", () => {
    const entries: Record<string, [string, string]> = {
      memory: ["functions/memory/app.ts", "memory"],
      deadletter: ["functions/deadletter/app.ts", "deadletter"],
      gateway: ["functions/gateway/app.ts", "gateway"],
      "agent-assistant": ["functions/agent/app.ts", "agent"],
      "skill-time": ["skills/time/app.ts", "skill"],
    };
    for (const [name, [entry, component]] of Object.entries(entries)) {
      const ksvc = find(defaults, "Service", name);
      expect(ksvc.apiVersion).toBe("serving.knative.dev/v1");
      expect(ksvc.metadata.annotations["knclaw.dev/entry"]).toBe(entry);
      expect(ksvc.metadata.labels["knclaw.dev/component"]).toBe(component);
      const pod = ksvc.spec.template.spec;
      expect(pod.serviceAccountName).toBe(name);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.enableServiceLinks).toBe(false);
      expect(pod.securityContext).toBeUndefined();
      expect(pod.containers).toHaveLength(1);
      expect(pod.containers[0].securityContext).toEqual({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      // protocol spelled out: the CRD defaults it, so leaving it out re-sends the containers on every apply.
      expect(pod.containers[0].ports).toEqual([{ name: "http1", containerPort: 8080, protocol: "TCP" }]);
      expect(pod.containers[0].readinessProbe).toEqual({ httpGet: { path: "/readyz" } });
      expect(pod.containers[0].livenessProbe).toEqual({ httpGet: { path: "/healthz" } });
      expect(envOf(ksvc).KNCLAW_ENTRY).toBe(entry);
    }
    expect(find(defaults, "Service", "agent-assistant").metadata.labels["networking.knative.dev/visibility"]).toBe(
      "cluster-local",
    );
    expect(find(defaults, "Service", "gateway").metadata.labels["networking.knative.dev/visibility"]).toBeUndefined();
    expect(find(full, "Service", "channel-slack").metadata.labels["networking.knative.dev/visibility"]).toBeUndefined();
    expect(find(full, "Service", "skill-kube").metadata.labels["networking.knative.dev/visibility"]).toBe(
      "cluster-local",
    );
  });

  it("puts scale and timeout knobs where Knative reads them", () => {
    const agent = find(full, "Service", "agent-ops");
    expect(agent.metadata.annotations["autoscaling.knative.dev/min-scale"]).toBeUndefined();
    expect(agent.spec.template.metadata.annotations["autoscaling.knative.dev/min-scale"]).toBe("1");
    expect(agent.spec.template.spec.timeoutSeconds).toBe(600);
    expect(agent.spec.template.spec.containerConcurrency).toBe(10);
    expect(
      find(full, "Service", "agent-helper").spec.template.metadata.annotations["autoscaling.knative.dev/min-scale"],
    ).toBe("0");
    // The embedded memory backend keeps state in its pod: exactly one replica.
    const memory = find(defaults, "Service", "memory").spec.template.metadata.annotations;
    expect([memory["autoscaling.knative.dev/min-scale"], memory["autoscaling.knative.dev/max-scale"]]).toEqual([
      "1",
      "1",
    ]);
    expect(
      find(full, "Service", "memory").spec.template.metadata.annotations["autoscaling.knative.dev/max-scale"],
    ).toBe("3");
    expect(find(full, "Service", "memory").spec.template.spec.containers[0].resources.requests.cpu).toBe("100m");
  });

  it("mounts a token only for a skill that calls the Kubernetes API, with exactly its RBAC in granted namespaces", () => {
    const kube = find(full, "Service", "skill-kube");
    expect(kube.spec.template.spec.automountServiceAccountToken).toBeUndefined();
    expect(find(full, "ServiceAccount", "skill-kube").automountServiceAccountToken).toBe(true);
    expect(find(full, "ServiceAccount", "agent-ops").automountServiceAccountToken).toBe(false);
    const roles = full.filter((o) => o.kind === "Role");
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(["api", "web"]);
    expect((roles[0] as any).rules).toEqual([
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "patch"] },
    ]);
    const binding = full.find((o) => o.kind === "RoleBinding" && o.metadata.namespace === "web") as any;
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "skill-kube", namespace: "agents" }]);
    // Named after the platform's namespace too, so a second platform granted `web` applies Roles of its own.
    expect(roles.map((r) => r.metadata.name)).toEqual(["knclaw-agents-skill-kube", "knclaw-agents-skill-kube"]);
    expect(binding.roleRef.name).toBe("knclaw-agents-skill-kube");
    expect(kube.spec.template.spec.containers[0].image).toBe(
      "registry.example.com/skills/kube@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    expect(find(full, "Service", "agent-ops").spec.template.spec.containers[0].image).toMatch(
      /^registry\.example\.com\/knclaw\/knclaw@sha256:/,
    );
  });

  it("renders the broker with delivery defaults and the deadletter function as sink", () => {
    const broker = find(defaults, "Broker", "default");
    expect(broker.metadata.annotations["eventing.knative.dev/broker.class"]).toBe("MTChannelBasedBroker");
    expect(broker.spec.delivery).toEqual({
      retry: 5,
      backoffPolicy: "exponential",
      backoffDelay: "PT0.5S",
      timeout: "PT60S",
      deadLetterSink: { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "deadletter" } },
    });
    const external = validateConfigValue({
      ...minimalConfig(),
      broker: { deadLetterSink: { destination: { uri: "https://dlq.example.com/in" } } },
    });
    const objects = render(external);
    expect(find(objects, "Broker", "default").spec.delivery.deadLetterSink).toEqual({
      uri: "https://dlq.example.com/in",
    });
    expect(objects.some((o) => o.metadata.name === "deadletter")).toBe(false);
  });

  it("routes by Trigger filter: one Trigger per event type of every route", () => {
    const routes = (objects: RenderedObject[], route: string) =>
      objects
        .filter((o) => o.kind === "Trigger" && o.metadata.labels?.["knclaw.dev/route"] === route)
        .map((o: any) => [o.metadata.name, o.spec.filter.attributes, o.spec.subscriber]);
    const agent = { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "agent-assistant" } };
    expect(routes(defaults, "agent-assistant")).toEqual([
      ["agent-assistant-approval-decided", { type: "dev.knclaw.approval.decided", knclawinstance: "assistant" }, agent],
      ["agent-assistant-message-received", { type: "dev.knclaw.message.received", knclawinstance: "assistant" }, agent],
      ["agent-assistant-ping", { type: "dev.knative.sources.ping", knclawinstance: "assistant" }, agent],
      ["agent-assistant-run-requested", { type: "dev.knclaw.run.requested", knclawinstance: "assistant" }, agent],
      [
        "agent-assistant-timer-fired",
        { type: "dev.knclaw.timer.fired", knclawinstance: "assistant", knclawtarget: "agent" },
        agent,
      ],
      ["agent-assistant-tool-completed", { type: "dev.knclaw.tool.completed", knclawinstance: "assistant" }, agent],
    ]);
    expect(routes(full, "channel-slack").map((r) => r[1])).toEqual([
      { type: "dev.knclaw.approval.requested", knclawchannel: "slack" },
      { type: "dev.knclaw.approval.resolved", knclawchannel: "slack" },
      { type: "dev.knclaw.message.send", knclawchannel: "slack" },
    ]);
    expect(routes(defaults, "gateway").map((r) => r[1])).toEqual([
      { type: "dev.knclaw.approval.requested", knclawchannel: "http" },
      { type: "dev.knclaw.approval.resolved", knclawchannel: "http" },
      { type: "dev.knclaw.message.received" },
      { type: "dev.knclaw.message.send", knclawchannel: "http" },
      { type: "dev.knclaw.run.completed" },
      { type: "dev.knclaw.run.failed" },
      { type: "dev.knclaw.timer.fired", knclawtarget: "gateway" },
    ]);
    expect(routes(full, "skill-kube")[0]!.slice(1)).toEqual([
      { type: "dev.knclaw.tool.requested", knclawskill: "kube" },
      { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "skill-kube" } },
    ]);
    // An external skill has no ksvc: its Trigger delivers to its URL.
    expect(routes(full, "skill-search")[0]![2]).toEqual({ uri: "https://search.example.com/knclaw" });
    expect(full.some((o) => o.kind === "Service" && o.metadata.name === "skill-search")).toBe(false);
    for (const trigger of full.filter((o) => o.kind === "Trigger")) expect((trigger as any).spec.broker).toBe("main");
  });

  it("routes nothing to the signed webhook channel: it only starts runs, and would answer every event with 400", () => {
    const config = fullConfig() as Record<string, any>;
    config.channels.webhook = {
      secrets: { signingSecret: { secret: "webhook", key: "signing" } },
      hooks: { alerts: { instance: "ops", task: "Look at this alert" } },
    };
    config.oidc = { enabled: true };
    const objects = render(validateConfigValue(config));
    // The adapter runs (its webhook route takes the signed posts) ...
    expect(find(objects, "Service", "channel-webhook").kind).toBe("Service");
    // ... but no Trigger delivers to it, and it waits for no delivery token, while a chat channel does.
    const subscribers = objects
      .filter((o) => o.kind === "Trigger")
      .map((o: any) => o.spec.subscriber.ref?.name ?? o.spec.subscriber.uri);
    expect(subscribers).not.toContain("channel-webhook");
    expect(subscribers).toContain("channel-slack");
    expect(envOf(find(objects, "Service", "channel-webhook")).KNCLAW_DELIVERY_AUDIENCE).toBeUndefined();
    expect(envOf(find(objects, "Service", "channel-slack")).KNCLAW_DELIVERY_AUDIENCE).toBeDefined();
    // It still sends run.requested to the broker, as itself.
    expect(find(objects, "SinkBinding", "channel-webhook-sink").kind).toBe("SinkBinding");
  });

  it("gives a Trigger with its own delivery the broker's dead-letter sink too", () => {
    const trigger = find(full, "Trigger", "agent-ops-message-received");
    expect(trigger.spec.delivery).toEqual({
      retry: 2,
      backoffPolicy: "exponential",
      backoffDelay: "PT2S",
      deadLetterSink: { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "deadletter" } },
    });
    expect(find(full, "Trigger", "agent-helper-message-received").spec.delivery).toBeUndefined();
  });

  it("binds producers to the broker with SinkBindings and nobody else", () => {
    const bindings = full.filter((o) => o.kind === "SinkBinding").map((o: any) => o.spec.subject.name);
    expect(bindings.sort()).toEqual([
      "agent-helper",
      "agent-ops",
      "channel-slack",
      "channel-telegram",
      "deadletter",
      "gateway",
      "memory",
    ]);
    const binding = find(full, "SinkBinding", "gateway-sink");
    expect(binding.spec).toEqual({
      subject: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "gateway" },
      sink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "main" } },
    });
    for (const ksvc of full.filter((o) => o.kind === "Service")) expect(envOf(ksvc).K_SINK).toBeUndefined();
  });

  it("renders a PingSource per schedule, to the broker, with routing extensions and the task as data", () => {
    const ping = find(full, "PingSource", "agent-ops-morning");
    expect(ping.spec).toEqual({
      schedule: "0 9 * * mon-fri",
      timezone: "Europe/Paris",
      contentType: "application/json",
      data: '{"concurrencyPolicy":"Replace","task":"Summarize overnight alerts"}',
      sink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "main" } },
      ceOverrides: { extensions: { knclawinstance: "ops", knclawschedule: "morning" } },
    });
  });

  it("a heartbeat's target in knclaw.yaml reaches the agent, the one that routes its answers (a tick names only the schedule)", () => {
    const config = fullConfig() as { instances: Record<string, { schedules: Array<Record<string, unknown>> }> };
    const target = { channel: "telegram", conversation: "-1001234567890", thread: "7" };
    config.instances.ops!.schedules[0]!.replyTo = target;
    const objects = render(validateConfigValue(config));
    const schedules = JSON.parse(envOf(find(objects, "Service", "agent-ops")).KNCLAW_SCHEDULES);
    expect(schedules.morning).toEqual({
      task: "Summarize overnight alerts",
      concurrencyPolicy: "Replace",
      replyTo: target,
    });
    // The PingSource shows the target too; it says which schedule fired, and as Knative cannot sign a tick, the agent
    // trusts nothing else in it (test/functions/agent/loop-schedules.test.ts: a tick naming another target).
    const ping = find(objects, "PingSource", "agent-ops-morning");
    expect(ping.spec.ceOverrides.extensions.knclawschedule).toBe("morning");
    expect(JSON.parse(ping.spec.data)).toEqual({
      task: "Summarize overnight alerts",
      concurrencyPolicy: "Replace",
      replyTo: target,
    });
  });

  it("wires env: memory URL and per-client token refs, secrets only as secretKeyRef", () => {
    const agent = envOf(find(full, "Service", "agent-ops"));
    expect(agent.KNCLAW_MEMORY_URL).toBe("http://memory.agents.svc.cluster.local");
    expect(agent.KNCLAW_MEMORY_TOKEN).toEqual({ secretKeyRef: { name: "knclaw-memory-tokens", key: "agent-ops" } });
    expect(agent.KNCLAW_PROVIDER_API_KEY).toEqual({ secretKeyRef: { name: "anthropic", key: "api-key" } });
    expect(agent.KNCLAW_INSTANCE).toBe("ops");
    expect(JSON.parse(agent.KNCLAW_POLICY).tools.deny).toEqual(["kube.delete"]);
    expect(JSON.parse(agent.KNCLAW_EXTERNAL_TOOLS).search[0].name).toBe("query");
    const slack = envOf(find(full, "Service", "channel-slack"));
    expect(slack.SIGNING_SECRET).toEqual({ secretKeyRef: { name: "slack", key: "signing" } });
    expect(JSON.parse(slack.KNCLAW_CHANNEL_ROUTES)).toEqual({
      routes: [{ workspace: "T123", instance: "ops" }],
      defaultInstance: "helper",
    });
    const memory = envOf(find(full, "Service", "memory"));
    expect(memory.KNCLAW_MEMORY_BACKEND).toBe("redis");
    expect(memory.KNCLAW_REDIS_URL).toEqual({ secretKeyRef: { name: "redis", key: "url" } });
    expect(memory.KNCLAW_MEMORY_URL).toBeUndefined();
    expect(envOf(find(defaults, "Service", "memory")).KNCLAW_MEMORY_BACKEND).toBe("embedded");
    const gateway = envOf(find(full, "Service", "gateway"));
    expect(gateway.KNCLAW_GATEWAY_TOKEN_ADMIN).toEqual({ secretKeyRef: { name: "gateway", key: "admin" } });
    expect(JSON.parse(envOf(find(full, "Service", "skill-kube")).KNCLAW_AGENT_KEYS)).toEqual({
      ops: expect.any(String),
    });
    expect(toYaml(full)).not.toMatch(/kind: Secret\b/);
  });

  it("denies egress by default per function and allows DNS, the broker, the data plane and declared hosts", () => {
    const deny = find(defaults, "NetworkPolicy", "knclaw-default-deny-egress");
    // No egress list at all: deny-all that the API server stores as sent (it drops an empty list).
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Egress"] });
    const agent = find(full, "NetworkPolicy", "agent-ops-egress");
    expect(agent.spec.podSelector).toEqual({ matchLabels: { "serving.knative.dev/service": "agent-ops" } });
    expect(agent.spec.policyTypes).toEqual(["Egress"]);
    const rules = agent.spec.egress as any[];
    expect(rules[0].ports).toEqual([
      { port: 53, protocol: "UDP" },
      { port: 53, protocol: "TCP" },
    ]);
    expect(
      rules.some((r) => r.to?.[0]?.podSelector?.matchLabels?.["eventing.knative.dev/brokerRole"] === "ingress"),
    ).toBe(true);
    expect(agent.metadata.annotations["knclaw.dev/egress-hosts"]).toBe("api.anthropic.com");
    const publicRule = rules.find((r) => r.to?.[0]?.ipBlock?.cidr === "0.0.0.0/0");
    expect(publicRule.to[0].ipBlock.except).toContain("10.0.0.0/8");
    expect(publicRule.ports).toEqual([{ port: 443, protocol: "TCP" }]);
    // A baseUrl on a private address becomes a /32 rule, not the internet.
    const helper = find(full, "NetworkPolicy", "agent-helper-egress").spec.egress as any[];
    expect(helper.some((r) => r.to?.[0]?.ipBlock?.cidr === "10.0.9.9/32" && r.ports[0].port === 11434)).toBe(true);
    expect(helper.some((r) => r.to?.[0]?.ipBlock?.cidr === "0.0.0.0/0")).toBe(false);
    // The memory service reaches Redis and, to fire the timers it keeps, the broker ingress; nothing else.
    const memory = find(full, "NetworkPolicy", "memory-egress").spec.egress as any[];
    expect(memory.some((r) => r.to?.[0]?.podSelector?.matchLabels?.["eventing.knative.dev/brokerRole"])).toBe(true);
    expect(memory.some((r) => r.ports?.[0]?.port === 6379)).toBe(true);
    expect(memory.some((r) => r.to?.[0]?.ipBlock !== undefined)).toBe(false);
    const kube = find(full, "NetworkPolicy", "skill-kube-egress").spec.egress as any[];
    expect(kube.some((r) => r.to?.[0]?.ipBlock?.cidr === "10.96.0.1/32")).toBe(true);
    expect(kube.some((r) => r.to?.[0]?.ipBlock?.cidr === "10.0.5.0/24" && r.ports[0].port === 8443)).toBe(true);
  });

  it("writes one file per function, the platform file first, and a kustomization listing them", () => {
    const files = manifestFiles(full);
    expect(files[0]!.path).toBe("00-platform.yaml");
    expect(files.at(-1)!.path).toBe("kustomization.yaml");
    const kustomization = parseAllDocuments(files.at(-1)!.content)[0]!.toJS();
    expect(kustomization.resources).toEqual(files.slice(0, -1).map((f) => f.path));
    const agentFile = files.find((f) => f.path === "10-agent-ops.yaml")!;
    const kinds = parseAllDocuments(agentFile.content).map((d) => `${d.toJS().kind}/${d.toJS().metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        "ServiceAccount/agent-ops",
        "NetworkPolicy/agent-ops-egress",
        "Service/agent-ops",
        "SinkBinding/agent-ops-sink",
        "Trigger/agent-ops-ping",
        "PingSource/agent-ops-morning",
      ]),
    );
    const all = files
      .filter((f) => f.path !== "kustomization.yaml")
      .flatMap((f) => parseAllDocuments(f.content).map((d) => d.toJS()));
    expect(all).toHaveLength(full.length);
    expect(manifestFiles(full, { kustomization: false }).some((f) => f.path === "kustomization.yaml")).toBe(false);
  });

  it("round-trips through YAML unchanged (numbers stay numbers, scale annotations stay strings)", () => {
    const back = parseAllDocuments(toYaml(full)).map((d) => d.toJS());
    expect(back).toEqual(JSON.parse(JSON.stringify(full)));
  });
});

describe("agent skill catalog", () => {
  it("carries the descriptors of an instance's built-in skills in the agent's env, so a bundled agent needs no skills/ folder", () => {
    const objects = render(loadConfig()) as any[];
    const agent = objects.find((o) => o.kind === "Service" && o.metadata.name === "agent-assistant");
    const env = agent.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
    const catalog = JSON.parse(env.find((e) => e.name === "KNCLAW_SKILL_CATALOG")!.value!) as Array<{
      name: string;
      instructions?: string;
      tools: Array<{ name: string; inputSchema: unknown }>;
    }>;
    expect(catalog.map((s) => s.name).sort()).toEqual(["memory", "time"]);
    const time = catalog.find((s) => s.name === "time")!;
    expect(time.tools.map((t) => t.name)).toEqual(["now", "convert"]);
    expect(time.instructions).toContain("IANA time zone");
  });
});
