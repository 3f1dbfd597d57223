import { describe, expect, it } from "vitest";
import { loadConfig, validateConfigValue } from "../../knative/config/index.ts";
import { type RenderedObject, render } from "../../knative/render/index.ts";
import { generateSecrets } from "../../knative/secrets/index.ts";
import { validateObjects } from "../../knative/validate/index.ts";
import { minimalConfig } from "./fixtures.ts";

/** What a complete install renders beyond the functions: the in-cluster Redis and the broker class's configuration. */
// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain JSON, checked field by field
const find = (objects: RenderedObject[], kind: string, name: string): any => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found;
};
const envOf = (ksvc: { spec: { template: { spec: { containers: { env: { name: string }[] }[] } } } }) =>
  Object.fromEntries(ksvc.spec.template.spec.containers[0]!.env.map((e) => [e.name, e]));

function withSection(section: string, value: unknown): RenderedObject[] {
  return render(validateConfigValue({ ...minimalConfig(), [section]: value }));
}

describe("in-cluster Redis for the memory service", () => {
  const objects = withSection("memory", { redis: { inCluster: { storage: "5Gi", storageClassName: "fast" } } });

  it("is a one-replica StatefulSet persisting to an append-only file on a claim, password from its Secret", () => {
    const set = find(objects, "StatefulSet", "knclaw-redis");
    expect(set.spec.replicas).toBe(1);
    expect(set.spec.serviceName).toBe("knclaw-redis");
    const pod = set.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
    const container = pod.containers[0];
    expect(container.command.join(" ")).toContain("--appendonly yes");
    // The password reaches redis-server through a private file, never its arguments or the pod spec.
    expect(JSON.stringify(set)).not.toMatch(/requirepass [^%]/);
    expect(container.env).toEqual([
      { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "knclaw-redis", key: "password" } } },
      { name: "REDISCLI_AUTH", valueFrom: { secretKeyRef: { name: "knclaw-redis", key: "password" } } },
    ]);
    expect(container.readinessProbe.exec.command.join(" ")).toContain("redis-cli -p 6379 ping");
    expect(container.livenessProbe.tcpSocket).toEqual({ port: 6379 });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.volumeMounts).toEqual([
      { name: "data", mountPath: "/data" },
      { name: "config", mountPath: "/tmp" },
    ]);
    // Written with the server's defaults, so that applying it again stores nothing (see the deploy tests).
    expect(set.spec.volumeClaimTemplates).toEqual([
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "data", creationTimestamp: null },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: "fast",
          resources: { requests: { storage: "5Gi" } },
          volumeMode: "Filesystem",
        },
        status: { phase: "Pending" },
      },
    ]);
  });

  it("is reachable through a headless Service by the memory service only", () => {
    const service = find(objects, "Service", "knclaw-redis");
    expect(service.apiVersion).toBe("v1");
    expect(service.spec.clusterIP).toBe("None");
    expect(service.spec.ports).toEqual([{ name: "redis", port: 6379, targetPort: 6379, protocol: "TCP" }]);
    const policy = find(objects, "NetworkPolicy", "knclaw-redis");
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: service.spec.selector },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { "serving.knative.dev/service": "memory" } } }],
          ports: [{ port: 6379, protocol: "TCP" }],
        },
      ],
    });
    // The memory service may reach exactly those pods.
    const egress = find(objects, "NetworkPolicy", "memory-egress").spec.egress;
    expect(egress).toContainEqual({
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "knclaw" } },
          podSelector: { matchLabels: service.spec.selector },
        },
      ],
      ports: [{ port: 6379, protocol: "TCP" }],
    });
  });

  it("gives the memory service the URL from the Redis Secret and lets it scale out", () => {
    const memory = find(objects, "Service", "memory");
    expect(envOf(memory).KNCLAW_REDIS_URL).toEqual({
      name: "KNCLAW_REDIS_URL",
      valueFrom: { secretKeyRef: { name: "knclaw-redis", key: "url" } },
    });
    expect(memory.spec.template.metadata.annotations["autoscaling.knative.dev/max-scale"]).not.toBe("1");
  });

  it("has `secrets generate` write a password and the URL carrying it, kept across runs", () => {
    const generated = generateSecrets(objects);
    const secret = generated.secrets.find((s) => s.metadata.name === "knclaw-redis")!;
    const { password, url } = secret.stringData;
    expect(password!.length).toBeGreaterThanOrEqual(32);
    expect(url).toBe(`redis://:${password}@knclaw-redis.knclaw.svc.cluster.local:6379`);
    expect(generated.external.some((ref) => ref.secret === "knclaw-redis")).toBe(false);
    const previous = new Map([
      ["knclaw/knclaw-redis/password", password!],
      ["knclaw/knclaw-redis/url", url!],
    ]);
    const again = generateSecrets(objects, { previous });
    expect(again.secrets.find((s) => s.metadata.name === "knclaw-redis")!.stringData).toEqual({ password, url });
    const rotated = generateSecrets(objects, { previous, rotate: ["knclaw-redis"] });
    const fresh = rotated.secrets.find((s) => s.metadata.name === "knclaw-redis")!.stringData;
    expect(fresh.password).not.toBe(password);
    expect(fresh.url).toContain(fresh.password);
  });

  it("is refused alongside an outside URL, and an outside URL still works as before", () => {
    expect(() => withSection("memory", { redis: { url: { secret: "r", key: "url" }, inCluster: {} } })).toThrow(
      /exactly one of url/,
    );
    const outside = withSection("memory", { redis: { url: { secret: "r", key: "url" } } });
    expect(outside.some((o) => o.kind === "StatefulSet")).toBe(false);
    expect(envOf(find(outside, "Service", "memory")).KNCLAW_REDIS_URL).toMatchObject({
      valueFrom: { secretKeyRef: { name: "r", key: "url" } },
    });
  });
});

describe("broker class", () => {
  it("Kafka: renders the broker's ConfigMap, points the Broker at it and lets producers reach the receiver", () => {
    const objects = withSection("broker", {
      class: "Kafka",
      kafka: { bootstrapServers: ["kafka-a:9092", "kafka-b:9092"], partitions: 6, replicationFactor: 3 },
    });
    const config = find(objects, "ConfigMap", "knclaw-kafka-broker-config");
    expect(config.data).toEqual({
      "bootstrap.servers": "kafka-a:9092,kafka-b:9092",
      "default.topic.partitions": "6",
      "default.topic.replication.factor": "3",
    });
    const broker = find(objects, "Broker", "default");
    expect(broker.metadata.annotations["eventing.knative.dev/broker.class"]).toBe("Kafka");
    expect(broker.spec.config).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      name: "knclaw-kafka-broker-config",
      namespace: "knclaw",
    });
    const egress = find(objects, "NetworkPolicy", "agent-ops-egress").spec.egress;
    expect(egress[1].to[0].podSelector).toEqual({ matchLabels: { app: "kafka-broker-receiver" } });
    expect(objects.findIndex((o) => o.kind === "ConfigMap")).toBeLessThan(
      objects.findIndex((o) => o.kind === "Broker"),
    );
  });

  it("MTChannelBasedBroker on KafkaChannel or InMemoryChannel: a channel template ConfigMap", () => {
    const kafka = withSection("broker", { channel: "KafkaChannel", kafka: { partitions: 3, replicationFactor: 1 } });
    expect(find(kafka, "ConfigMap", "knclaw-broker-channel").data["channel-template-spec"]).toBe(
      "apiVersion: messaging.knative.dev/v1beta1\nkind: KafkaChannel\nspec:\n  numPartitions: 3\n  replicationFactor: 1\n",
    );
    expect(find(kafka, "Broker", "default").spec.config.name).toBe("knclaw-broker-channel");
    const memory = withSection("broker", { channel: "InMemoryChannel" });
    expect(find(memory, "ConfigMap", "knclaw-broker-channel").data["channel-template-spec"]).toBe(
      "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\n",
    );
    const egress = find(memory, "NetworkPolicy", "agent-ops-egress").spec.egress;
    expect(egress[1].to[0].podSelector).toEqual({ matchLabels: { "eventing.knative.dev/brokerRole": "ingress" } });
    // Unset: the cluster's default channel, no ConfigMap.
    expect(render(validateConfigValue(minimalConfig())).some((o) => o.kind === "ConfigMap")).toBe(false);
  });

  it("refuses choices that do not fit together", () => {
    expect(() => withSection("broker", { class: "Kafka" })).toThrow(/class Kafka needs kafka.bootstrapServers/);
    expect(() => withSection("broker", { class: "Kafka", channel: "KafkaChannel" })).toThrow(/channel is for class/);
    expect(() => withSection("broker", { kafka: { partitions: 3 } })).toThrow(/kafka settings are for class Kafka/);
    expect(() => withSection("broker", { channel: "InMemoryChannel", config: { name: "mine" } })).toThrow(
      /choose one way/,
    );
    expect(() => withSection("broker", { channel: "KafkaChannel", kafka: { bootstrapServers: ["k:9092"] } })).toThrow(
      /config-kafka-channel/,
    );
  });
});

describe("the production example config", () => {
  it("validates, and renders the Kafka broker and the in-cluster Redis", () => {
    const objects = render(loadConfig(new URL("../../knative/defaults/production.yaml", import.meta.url).pathname));
    expect(validateObjects(objects, { checkReferences: true }).filter((p) => p.severity === "error")).toEqual([]);
    expect(find(objects, "Broker", "default").metadata.annotations["eventing.knative.dev/broker.class"]).toBe("Kafka");
    expect(find(objects, "StatefulSet", "knclaw-redis").spec.volumeClaimTemplates[0].spec.resources.requests).toEqual({
      storage: "10Gi",
    });
  });
});
