import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig, validateConfigValue } from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";
import {
  checkCesql,
  checkPingSchedule,
  loadManifestDir,
  ManifestError,
  parseGoDuration,
  parseIsoDuration,
  parseManifests,
  toCronerSchedule,
  validateObjects,
} from "../../knative/validate/index.ts";
import { fullConfig } from "./fixtures.ts";

const trigger = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({
  apiVersion: "eventing.knative.dev/v1",
  kind: "Trigger",
  metadata: { name: "t", namespace: "ns", ...metadata },
  spec: {
    broker: "default",
    subscriber: { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "svc" } },
    ...spec,
  },
});
const ping = (spec: Record<string, unknown>) => ({
  apiVersion: "sources.knative.dev/v1",
  kind: "PingSource",
  metadata: { name: "p", namespace: "ns" },
  spec: {
    schedule: "*/5 * * * *",
    sink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "default" } },
    ...spec,
  },
});
const broker = (spec: Record<string, unknown>) => ({
  apiVersion: "eventing.knative.dev/v1",
  kind: "Broker",
  metadata: { name: "b", namespace: "ns" },
  spec,
});
const ksvc = (mutate: (s: any) => void) => {
  const service: any = {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: { name: "fn", namespace: "ns" },
    spec: {
      template: {
        metadata: { annotations: {} },
        spec: { containers: [{ image: "ghcr.io/x/fn@sha256:" + "a".repeat(64), ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
  mutate(service);
  return service;
};
const sinkBinding = (spec: Record<string, unknown>) => ({
  apiVersion: "sources.knative.dev/v1",
  kind: "SinkBinding",
  metadata: { name: "sb", namespace: "ns" },
  spec: { sink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "default" } }, ...spec },
});

describe("validateObjects on rendered output", () => {
  it("the default config's objects pass the schemas and every webhook rule (only the tag-only image warning remains)", () => {
    const objects = render(loadConfig());
    const problems = validateObjects(objects, { checkReferences: true, hardening: true });
    expect(problems.filter((p) => p.severity === "error")).toEqual([]);
    expect(new Set(problems.map((p) => p.rule))).toEqual(new Set(["image-digest"]));
  });

  it("the full config's objects pass too, with no warnings at all", () => {
    const objects = render(validateConfigValue(fullConfig()));
    expect(validateObjects(objects, { checkReferences: true, hardening: true })).toEqual([]);
  });

  it("catches schema violations from kubernetes-models with the field path", () => {
    const problems = validateObjects([ksvc((s) => (s.spec.template.spec.containerConcurrency = "ten"))]);
    expect(problems).toContainEqual(
      expect.objectContaining({
        object: "Service/ns/fn",
        path: "spec.template.spec.containerConcurrency",
        rule: "schema",
        severity: "error",
      }),
    );
    const np = validateObjects([
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "n" },
        spec: { podSelector: {}, egress: [{ ports: [{ port: 53, protocol: 7 }] }] },
      },
    ]);
    expect(np.some((p) => p.path === "spec.egress[0].ports[0].protocol" && p.rule === "schema")).toBe(true);
  });

  // Every webhook rule that the schemas miss has a failing case: [name, object, path, rule].
  const cases: [string, unknown, string, string][] = [
    ["trigger without broker", trigger({ broker: "" }), "spec.broker", "trigger-broker"],
    [
      "attribute name uppercase",
      trigger({ filter: { attributes: { Type: "x" } } }),
      "spec.filter.attributes[Type]",
      "attribute-name",
    ],
    [
      "attribute name with dash",
      trigger({ filter: { attributes: { "knclaw-instance": "x" } } }),
      "spec.filter.attributes[knclaw-instance]",
      "attribute-name",
    ],
    [
      "two dialects in one filter",
      trigger({ filters: [{ exact: { type: "a" }, prefix: { source: "b" } }] }),
      "spec.filters[0]",
      "trigger-one-dialect",
    ],
    [
      "cesql beside exact",
      trigger({ filters: [{ exact: { type: "a" }, cesql: "type = 'a'" }] }),
      "spec.filters[0]",
      "trigger-one-dialect",
    ],
    [
      "exact with two keys",
      trigger({ filters: [{ exact: { type: "a", source: "b" } }] }),
      "spec.filters[0].exact",
      "trigger-single-attribute",
    ],
    [
      "nested invalid attribute",
      trigger({ filters: [{ any: [{ suffix: { Bad: "x" } }] }] }),
      "spec.filters[0].any[0].suffix[Bad]",
      "attribute-name",
    ],
    [
      "not with two dialects",
      trigger({ filters: [{ not: { exact: { a: "1" }, suffix: { b: "2" } } }] }),
      "spec.filters[0].not",
      "trigger-one-dialect",
    ],
    [
      "unknown dialect",
      trigger({ filters: [{ regex: { type: ".*" } }] }),
      "spec.filters[0].regex",
      "trigger-filter-dialect",
    ],
    ["cesql syntax", trigger({ filters: [{ cesql: "type = 'a' AND" }] }), "spec.filters[0].cesql", "cesql-syntax"],
    ["subscriber missing", trigger({ subscriber: undefined }), "spec.subscriber", "destination"],
    ["subscriber relative uri alone", trigger({ subscriber: { uri: "/path" } }), "spec.subscriber.uri", "destination"],
    [
      "subscriber absolute uri with ref",
      trigger({ subscriber: { ref: { apiVersion: "v1", kind: "Service", name: "s" }, uri: "http://x.example.com" } }),
      "spec.subscriber",
      "destination",
    ],
    [
      "subscriber ref without kind",
      trigger({ subscriber: { ref: { apiVersion: "v1", name: "s" } } }),
      "spec.subscriber.ref.kind",
      "reference",
    ],
    [
      "subscriber ref other namespace",
      trigger({ subscriber: { ref: { apiVersion: "v1", kind: "Service", name: "s", namespace: "other" } } }),
      "spec.subscriber.ref.namespace",
      "reference",
    ],
    ["negative retry", trigger({ delivery: { retry: -1 } }), "spec.delivery.retry", "delivery-retry"],
    [
      "backoff policy",
      trigger({ delivery: { backoffPolicy: "random" } }),
      "spec.delivery.backoffPolicy",
      "delivery-backoff-policy",
    ],
    [
      "backoff delay not ISO-8601",
      trigger({ delivery: { backoffDelay: "2s" } }),
      "spec.delivery.backoffDelay",
      "iso8601-duration",
    ],
    ["zero timeout", trigger({ delivery: { timeout: "PT0S" } }), "spec.delivery.timeout", "iso8601-duration"],
    ["delivery format", trigger({ delivery: { format: "xml" } }), "spec.delivery.format", "delivery-format"],
    [
      "retryAfterMax without its feature",
      trigger({ delivery: { retryAfterMax: "PT1S" } }),
      "spec.delivery.retryAfterMax",
      "delivery-retry-after",
    ],
    [
      "dead-letter sink invalid",
      trigger({ delivery: { deadLetterSink: {} } }),
      "spec.delivery.deadLetterSink",
      "destination",
    ],
    [
      "dependency annotation",
      trigger({}, { annotations: { "knative.dev/dependency": "not json" } }),
      "metadata.annotations[knative.dev/dependency]",
      "trigger-dependency",
    ],
    [
      "injection annotation on another broker",
      trigger({ broker: "other" }, { annotations: { "eventing.knative.dev/injection": "enabled" } }),
      "metadata.annotations[eventing.knative.dev/injection]",
      "trigger-injection",
    ],
    [
      "broker delivery",
      broker({ delivery: { backoffDelay: "soon" } }),
      "spec.delivery.backoffDelay",
      "iso8601-duration",
    ],
    [
      "broker config reference",
      broker({ config: { kind: "ConfigMap", name: "c" } }),
      "spec.config.apiVersion",
      "reference",
    ],
    ["ping @every", ping({ schedule: "@every 1m" }), "spec.schedule", "cron-every"],
    ["ping six fields out of range", ping({ schedule: "70 * * * * *" }), "spec.schedule", "cron-syntax"],
    ["ping seven fields", ping({ schedule: "0 0 0 * * * 2030" }), "spec.schedule", "cron-syntax"],
    ["ping bad descriptor", ping({ schedule: "@fortnightly" }), "spec.schedule", "cron-syntax"],
    ["ping bad timezone", ping({ timezone: "Knative/Land" }), "spec.timezone", "timezone"],
    [
      "ping timezone with TZ prefix",
      ping({ schedule: "TZ=UTC 0 * * * *", timezone: "UTC" }),
      "spec.schedule",
      "cron-timezone-twice",
    ],
    ["ping data and dataBase64", ping({ data: "x", dataBase64: "eA==" }), "spec", "ping-data-one-of"],
    ["ping invalid base64", ping({ dataBase64: "$$$ invalid $$$" }), "spec.dataBase64", "ping-data-base64"],
    [
      "ping JSON data not JSON",
      ping({ contentType: "application/json", data: "Invalid JSON" }),
      "spec.data",
      "ping-data-json",
    ],
    [
      "ping JSON data not an object",
      ping({ contentType: "application/json", data: "[1,2]" }),
      "spec.data",
      "ping-data-json",
    ],
    [
      "ping JSON base64 not JSON",
      ping({ contentType: "application/json", dataBase64: Buffer.from("nope").toString("base64") }),
      "spec.dataBase64",
      "ping-data-json",
    ],
    [
      "ping extension name",
      ping({ ceOverrides: { extensions: { "bad-name": "x" } } }),
      "spec.ceOverrides.extensions[bad-name]",
      "extension-name",
    ],
    [
      "ping ceOverrides overwriting a spec attribute (Knative's SDK refuses it)",
      ping({ ceOverrides: { extensions: { type: "x" } } }),
      "spec.ceOverrides.extensions[type]",
      "ce-overrides-spec-attribute",
    ],
    [
      "sinkbinding ceOverrides overwriting specversion, in any case",
      sinkBinding({
        subject: { apiVersion: "apps/v1", kind: "Deployment", name: "d" },
        ceOverrides: { extensions: { SpecVersion: "0.3" } },
      }),
      "spec.ceOverrides.extensions[SpecVersion]",
      "ce-overrides-spec-attribute",
    ],
    [
      "trigger with both broker and brokerRef",
      trigger({ brokerRef: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "b" } }),
      "spec",
      "trigger-broker",
    ],
    [
      "trigger brokerRef namespace without cross-namespace-event-links",
      trigger({
        broker: undefined,
        brokerRef: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "b", namespace: "other" },
      }),
      "spec.brokerRef.namespace",
      "trigger-broker-ref",
    ],
    ["ping without sink", ping({ sink: undefined }), "spec.sink", "destination"],
    [
      "sinkbinding subject name and selector",
      sinkBinding({
        subject: { apiVersion: "apps/v1", kind: "Deployment", name: "d", selector: { matchLabels: { a: "b" } } },
      }),
      "spec.subject",
      "sinkbinding-subject",
    ],
    [
      "sinkbinding subject other namespace",
      sinkBinding({ subject: { apiVersion: "apps/v1", kind: "Deployment", name: "d", namespace: "other" } }),
      "spec.subject.namespace",
      "sinkbinding-subject",
    ],
    ["ksvc name not DNS-1035", ksvc((s) => (s.metadata.name = "1fn")), "metadata.name", "name"],
    [
      "ksvc visibility label",
      ksvc((s) => (s.metadata.labels = { "networking.knative.dev/visibility": "internal" })),
      "metadata.labels[networking.knative.dev/visibility]",
      "visibility",
    ],
    [
      "autoscaling annotation on the Service",
      ksvc((s) => (s.metadata.annotations = { "autoscaling.knative.dev/min-scale": "1" })),
      "metadata.annotations[autoscaling.knative.dev/min-scale]",
      "autoscaling-annotation-placement",
    ],
    [
      "unknown serving annotation",
      ksvc((s) => (s.metadata.annotations = { "serving.knative.dev/whatever": "x" })),
      "metadata.annotations[serving.knative.dev/whatever]",
      "serving-annotation",
    ],
    [
      "min-scale not a number",
      ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/min-scale"] = "one")),
      "spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]",
      "autoscaling-annotation",
    ],
    [
      "max below min",
      ksvc((s) =>
        Object.assign(s.spec.template.metadata.annotations, {
          "autoscaling.knative.dev/min-scale": "5",
          "autoscaling.knative.dev/max-scale": "2",
        }),
      ),
      "spec.template.metadata.annotations[autoscaling.knative.dev/max-scale]",
      "autoscaling-scale-bounds",
    ],
    [
      "window too short",
      ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/window"] = "2s")),
      "spec.template.metadata.annotations[autoscaling.knative.dev/window]",
      "autoscaling-annotation",
    ],
    [
      "window not a Go duration",
      ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/window"] = "PT60S")),
      "spec.template.metadata.annotations[autoscaling.knative.dev/window]",
      "go-duration",
    ],
    [
      "scale-down-delay sub-second",
      ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/scale-down-delay"] = "1500ms")),
      "spec.template.metadata.annotations[autoscaling.knative.dev/scale-down-delay]",
      "autoscaling-annotation",
    ],
    [
      "metric for KPA",
      ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/metric"] = "cpu")),
      "spec.template.metadata.annotations[autoscaling.knative.dev/metric]",
      "autoscaling-annotation",
    ],
    [
      "target too low",
      ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/target"] = "0.001")),
      "spec.template.metadata.annotations[autoscaling.knative.dev/target]",
      "autoscaling-annotation",
    ],
    [
      "initial-scale zero",
      ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/initial-scale"] = "0")),
      "spec.template.metadata.annotations[autoscaling.knative.dev/initial-scale]",
      "autoscaling-initial-scale",
    ],
    [
      "unknown autoscaler class",
      ksvc(
        (s) =>
          (s.spec.template.metadata.annotations["autoscaling.knative.dev/class"] = "fancy.autoscaling.knative.dev"),
      ),
      "spec.template.metadata.annotations[autoscaling.knative.dev/class]",
      "autoscaling-annotation",
    ],
    [
      "timeoutSeconds above the cluster max",
      ksvc((s) => (s.spec.template.spec.timeoutSeconds = 601)),
      "spec.template.spec.timeoutSeconds",
      "timeout-seconds",
    ],
    [
      "containerConcurrency above the limit",
      ksvc((s) => (s.spec.template.spec.containerConcurrency = 1001)),
      "spec.template.spec.containerConcurrency",
      "container-concurrency",
    ],
    [
      "pod securityContext needs a feature flag",
      ksvc((s) => (s.spec.template.spec.securityContext = { runAsNonRoot: true })),
      "spec.template.spec.securityContext",
      "serving-disallowed-field",
    ],
    [
      "automountServiceAccountToken true",
      ksvc((s) => (s.spec.template.spec.automountServiceAccountToken = true)),
      "spec.template.spec.automountServiceAccountToken",
      "serving-disallowed-field",
    ],
    [
      "hostNetwork",
      ksvc((s) => (s.spec.template.spec.hostNetwork = true)),
      "spec.template.spec.hostNetwork",
      "serving-disallowed-field",
    ],
    [
      "reserved env var",
      ksvc((s) => (s.spec.template.spec.containers[0].env = [{ name: "K_SERVICE", value: "x" }])),
      "spec.template.spec.containers[0].env[0].name",
      "serving-reserved-env",
    ],
    [
      "env from fieldRef",
      ksvc(
        (s) =>
          (s.spec.template.spec.containers[0].env = [
            { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          ]),
      ),
      "spec.template.spec.containers[0].env[0].valueFrom.fieldRef",
      "serving-disallowed-field",
    ],
    [
      "literal secret in env",
      ksvc(
        (s) => (s.spec.template.spec.containers[0].env = [{ name: "TOKEN", value: "xoxb-123456789012-abcdefghijkl" }]),
      ),
      "spec.template.spec.containers[0].env[0].value",
      "no-literal-secrets",
    ],
    [
      "reserved port",
      ksvc((s) => (s.spec.template.spec.containers[0].ports = [{ containerPort: 8012 }])),
      "spec.template.spec.containers[0].ports[0].containerPort",
      "serving-reserved-port",
    ],
    [
      "two ports",
      ksvc((s) => (s.spec.template.spec.containers[0].ports = [{ containerPort: 8080 }, { containerPort: 8081 }])),
      "spec.template.spec.containers[0].ports",
      "serving-ports",
    ],
    [
      "port name",
      ksvc((s) => (s.spec.template.spec.containers[0].ports = [{ containerPort: 8080, name: "web" }])),
      "spec.template.spec.containers[0].ports[0].name",
      "serving-ports",
    ],
    [
      "UDP port",
      ksvc((s) => (s.spec.template.spec.containers[0].ports = [{ containerPort: 8080, protocol: "UDP" }])),
      "spec.template.spec.containers[0].ports[0].protocol",
      "serving-ports",
    ],
    [
      "container name queue-proxy",
      ksvc((s) => (s.spec.template.spec.containers[0].name = "queue-proxy")),
      "spec.template.spec.containers[0].name",
      "serving-container-name",
    ],
    [
      "privileged container",
      ksvc((s) => (s.spec.template.spec.containers[0].securityContext = { privileged: true })),
      "spec.template.spec.containers[0].securityContext.privileged",
      "serving-disallowed-field",
    ],
    [
      "lifecycle hooks",
      ksvc((s) => (s.spec.template.spec.containers[0].lifecycle = { preStop: {} })),
      "spec.template.spec.containers[0].lifecycle",
      "serving-disallowed-field",
    ],
    [
      "probe with two handlers",
      ksvc(
        (s) =>
          (s.spec.template.spec.containers[0].readinessProbe = { httpGet: { path: "/" }, tcpSocket: { port: 8080 } }),
      ),
      "spec.template.spec.containers[0].readinessProbe",
      "serving-probe",
    ],
    [
      "writable mount on a reserved path",
      ksvc((s) => {
        s.spec.template.spec.volumes = [{ name: "v", secret: { secretName: "s" } }];
        s.spec.template.spec.containers[0].volumeMounts = [{ name: "v", mountPath: "/tmp" }];
      }),
      "spec.template.spec.containers[0].volumeMounts[0].mountPath",
      "serving-volume",
    ],
    [
      "unparsable image",
      ksvc((s) => (s.spec.template.spec.containers[0].image = "UPPER/Case:tag")),
      "spec.template.spec.containers[0].image",
      "image-ref",
    ],
    ["label value too long", trigger({}, { labels: { a: "x".repeat(64) } }), "metadata.labels[a]", "label-value"],
    ["object name", trigger({}, { name: "Not_Valid" }), "metadata.name", "name"],
    [
      "a Secret is never rendered",
      { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, stringData: { a: "b" } },
      "",
      "secrets-not-inlined",
    ],
  ];

  it.each(cases)("%s", (_name, object, path, rule) => {
    const problems = validateObjects([object]);
    const hit = problems.find((p) => p.path === path && p.rule === rule && p.severity === "error");
    expect(hit, JSON.stringify(problems)).toBeDefined();
  });

  it("accepts what Knative accepts", () => {
    const ok = [
      trigger({
        filters: [
          { all: [{ exact: { type: "a" } }, { not: { prefix: { source: "/x" } } }] },
          { cesql: "EXISTS knclawinstance AND type LIKE 'dev.%'" },
        ],
      }),
      trigger({
        filter: { attributes: { type: "a", knclawinstance: "" } },
        subscriber: { ref: { apiVersion: "v1", kind: "Service", name: "s" }, uri: "/path" },
      }),
      trigger({ filters: [{ exact: {}, any: [{ suffix: { type: ".done" } }] }] }),
      ping({ schedule: "10 0/5 * * * ?", timezone: "America/New_York" }),
      ping({ schedule: "CRON_TZ=Asia/Tokyo @daily" }),
      ping({ schedule: "", contentType: "text/plain", dataBase64: "SGVsbG8gV29ybGQu" }),
      ping({ schedule: "0 0 * JAN,jul SUN-sat", contentType: "application/json", data: '{"a":1}' }),
      broker({
        delivery: { retry: 0, backoffPolicy: "linear", backoffDelay: "P0", timeout: "PT0.5S", format: "json" },
      }),
      ksvc((s) =>
        Object.assign(s.spec.template.metadata.annotations, {
          "autoscaling.knative.dev/minScale": "0",
          "autoscaling.knative.dev/window": "1m30s",
        }),
      ),
    ];
    expect(validateObjects(ok).filter((p) => p.severity === "error")).toEqual([]);
  });

  it("honours cluster settings", () => {
    const slow = ksvc((s) => (s.spec.template.spec.timeoutSeconds = 900));
    expect(validateObjects([slow]).some((p) => p.rule === "timeout-seconds")).toBe(true);
    expect(validateObjects([slow], { maxRevisionTimeoutSeconds: 1200 })).toEqual([]);
    expect(
      validateObjects([trigger({ delivery: { timeout: "PT1S" } })], { deliveryTimeout: false }).some(
        (p) => p.rule === "delivery-timeout",
      ),
    ).toBe(true);
    const zero = ksvc((s) => (s.spec.template.metadata.annotations["autoscaling.knative.dev/initial-scale"] = "0"));
    expect(validateObjects([zero], { allowZeroInitialScale: true })).toEqual([]);
    expect(
      validateObjects([trigger({ filters: [{ exact: { type: "a" } }] })], { newTriggerFilters: false }).some(
        (p) => p.rule === "trigger-filters-feature",
      ),
    ).toBe(true);
  });

  it("takes a brokerRef alone, and its namespace with cross-namespace-event-links; a Broker's dead-letter sink in another namespace", () => {
    const ref = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "b" };
    const errors = (objects: unknown[], options = {}) =>
      validateObjects(objects, options).filter((p) => p.severity === "error");
    expect(errors([trigger({ broker: undefined, brokerRef: ref })])).toEqual([]);
    const across = trigger({ broker: undefined, brokerRef: { ...ref, namespace: "other" } });
    expect(errors([across], { crossNamespaceEventLinks: true })).toEqual([]);
    const dls = { ref: { apiVersion: "v1", kind: "Service", name: "s", namespace: "elsewhere" }, uri: "x" };
    expect(errors([broker({ delivery: { deadLetterSink: dls } })])).toEqual([]);
    // A lowercase extension is fine; an uppercase one is sent lowercased (a warning says so).
    const upper = validateObjects([ping({ ceOverrides: { extensions: { Team: "a", team2: "b" } } })]);
    expect(upper).toMatchObject([{ severity: "warning", rule: "extension-name", message: /sent as team/ }]);
  });

  it("checks references between objects when asked", () => {
    const problems = validateObjects([trigger({ broker: "missing" })], { checkReferences: true });
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(["spec.broker", "spec.subscriber.ref"]));
  });
});

describe("parseManifests (knclaw dev --manifests)", () => {
  const good = [
    { apiVersion: "eventing.knative.dev/v1", kind: "Broker", metadata: { name: "default" } },
    trigger(
      {
        broker: "default",
        subscriber: { uri: "https://hooks.example.com/in" },
        filters: [{ prefix: { type: "dev.knclaw." } }],
      },
      { namespace: undefined, name: "to-outside" },
    ),
    { ...ping({ schedule: "" }), metadata: { name: "tick" } },
  ];

  it("returns typed objects with Knative's defaults applied", () => {
    const objects = parseManifests(good.map((o) => stringify(o)).join("---\n"), {
      defaultNamespace: "knclaw",
      source: "extra.yaml",
    });
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      "Broker/knclaw/default",
      "Trigger/knclaw/to-outside",
      "PingSource/knclaw/tick",
    ]);
    const t = objects[1]!;
    expect(t.kind).toBe("Trigger");
    expect(t.spec).toMatchObject({ filter: { attributes: {} }, filters: [{ prefix: { type: "dev.knclaw." } }] });
    const p = objects[2]!;
    expect(p.kind).toBe("PingSource");
    expect(p.spec).toMatchObject({ schedule: "* * * * *", sink: { ref: { namespace: "knclaw" } } });
  });

  it("refuses invalid objects, naming the file, the object and the rule", () => {
    const bad = stringify(trigger({ filters: [{ exact: { type: "a" }, suffix: { type: "b" } }] }, { name: "broken" }));
    try {
      parseManifests(bad, { source: "mine.yaml" });
      throw new Error("expected a ManifestError");
    } catch (error) {
      expect(error).toBeInstanceOf(ManifestError);
      const message = (error as Error).message;
      expect(message).toContain("mine.yaml#1");
      expect(message).toContain("Trigger/ns/broken");
      expect(message).toContain("trigger-one-dialect");
    }
  });

  it("refuses YAML errors with a position, known kinds at versions Knative does not serve, and non-objects", () => {
    expect(() => parseManifests("kind: Trigger\n  bad: [", { source: "x.yaml" })).toThrow(
      /x\.yaml:\d+:\d+.*yaml-syntax/s,
    );
    expect(() =>
      parseManifests(
        stringify({ apiVersion: "eventing.knative.dev/v1beta1", kind: "Trigger", metadata: { name: "t" } }),
      ),
    ).toThrow(/api-version.*use eventing\.knative\.dev\/v1/);
    expect(() => parseManifests("- 1\n- 2\n")).toThrow(/must be a Kubernetes object/);
    expect(parseManifests("# only a comment\n")).toEqual([]);
  });

  it("loads a directory, sorted and recursive, and reports duplicates across files", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-manifests-"));
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "b.yaml"), stringify(good[0]));
    writeFileSync(
      join(dir, "sub", "a.yml"),
      stringify({ ...ping({}), metadata: { name: "tick", namespace: "knclaw" } }),
    );
    writeFileSync(join(dir, "notes.txt"), "ignored");
    const { objects } = loadManifestDir(dir, { defaultNamespace: "knclaw" });
    expect(objects.map((o) => o.kind)).toEqual(["Broker", "PingSource"]);
    writeFileSync(join(dir, "c.yaml"), stringify(good[0]));
    expect(() => loadManifestDir(dir, { defaultNamespace: "knclaw" })).toThrow(/duplicate-object/);
  });
});

describe("rule helpers", () => {
  it("reads cron the way robfig does and hands croner an equivalent pattern", () => {
    expect(toCronerSchedule("*/5 * * * *")).toEqual({
      pattern: "0 */5 * * * *",
      timezone: undefined,
      options: { mode: "5-or-6-parts", sloppyRanges: true, domAndDow: false },
    });
    expect(toCronerSchedule("5/15 ? * * MON-FRI", "Europe/Paris").pattern).toBe("0 5-59/15 * * * 1-5");
    expect(toCronerSchedule("@hourly").pattern).toBe("0 0 * * * *");
    expect(toCronerSchedule("CRON_TZ=Asia/Tokyo 0 9 * * *").timezone).toBe("Asia/Tokyo");
    const check = checkPingSchedule("0 0 1 1 *", "UTC");
    expect(check.ok && check.next?.getUTCMonth()).toBe(0);
    for (const bad of [
      "",
      "* * * * * * *",
      "*/0 * * * *",
      "5-1 * * * *",
      "1-2-3 * * * *",
      "a * * * *",
      "0 0 0 * *",
      "0 0 * 13 *",
    ]) {
      expect(checkPingSchedule(bad).ok, bad).toBe(false);
    }
  });

  it("parses ISO-8601 and Go durations", () => {
    expect(parseIsoDuration("PT0.2S")?.ms).toBe(200);
    expect(parseIsoDuration("PT1M30S")?.ms).toBe(90_000);
    expect(parseIsoDuration("P1DT1H")?.ms).toBe(90_000_000);
    expect(parseIsoDuration("-PT1S")?.negative).toBe(true);
    expect(parseIsoDuration("P0")?.ms).toBe(0);
    for (const bad of ["", "P", "PT", "1S", "PT1", "P1S", "PT1H1D", "pt1s"])
      expect(parseIsoDuration(bad), bad).toBeUndefined();
    expect(parseGoDuration("1m30s")).toBe(90_000);
    expect(parseGoDuration("1.5h")).toBe(5_400_000);
    expect(parseGoDuration("300ms")).toBe(300);
    expect(parseGoDuration("0")).toBe(0);
    for (const bad of ["", "10", "1d", "s", "1m 30s"]) expect(parseGoDuration(bad), bad).toBeUndefined();
  });

  it("checks CESQL syntax", () => {
    for (const ok of [
      "type = 'dev.knclaw.message.received'",
      "EXISTS knclawinstance AND (knclawinstance = \"ops\" OR knclawinstance = 'dev')",
      "subject NOT LIKE 'test%'",
      "knclawrun IN ('a', 'b', 'c')",
      "NOT (a = 1) XOR b != 2",
      "LENGTH(source) > 3 + 2 * -1",
      "'it''s' = 'it\\'s'",
    ]) {
      expect(checkCesql(ok), ok).toBeUndefined();
    }
    for (const bad of [
      "",
      "type =",
      "(a = 1",
      "a = 'unterminated",
      "EXISTS",
      "a LIKE b",
      "a IN 1",
      "a = 1 AND AND b = 2",
      "a # b",
      "a NOT = b",
    ]) {
      expect(checkCesql(bad), bad).toBeDefined();
    }
  });
});
