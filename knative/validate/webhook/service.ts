/**
 * Knative Service (knative/serving pkg/apis/serving: v1/service_validation.go, revision_validation.go,
 * k8s_validation.go, fieldmask.go, metadata_validation.go, autoscaling/annotation_validation.go): the name a
 * DNS-1035 label, the visibility label only `cluster-local`, autoscaling annotations only on the template and with
 * valid values, timeoutSeconds and containerConcurrency within the cluster's bounds, only the pod and container
 * fields Knative allows (automountServiceAccountToken only `false`), one serving port (TCP, not a reserved port,
 * named "", h2c or http1), no reserved env vars, only the volume sources Knative allows without feature flags,
 * read-only mounts off reserved paths, one handler per probe.
 */
import { parseGoDuration } from "../../../runtime/duration.ts";
import { parseImageRef } from "../image.ts";
import { checkDns1035Label, checkDns1123Label, checkDns1123Subdomain } from "../names.ts";
import type { WebhookOptions } from "../options.ts";
import { isObject, type Json, join, type ProblemSink, str } from "../problems.ts";

const AS = "autoscaling.knative.dev/";
const RESERVED_ENV = new Set(["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"]);
const RESERVED_PORTS = new Set([8012, 8013, 8022, 8008, 9090, 9091]);
const RESERVED_PATHS = new Set(["/", "/dev", "/dev/log", "/tmp", "/var", "/var/log"]);
const ALLOWED_SERVING_ANNOTATIONS = new Set([
  "serving.knative.dev/creator",
  "serving.knative.dev/lastModifier",
  "serving.knative.dev/lastPinned",
  "serving.knative.dev/routingStateModified",
  "serving.knative.dev/forceUpgrade",
  "serving.knative.dev/no-gc",
  "serving.knative.dev/routes",
  "serving.knative.dev/rollout-duration",
  "serving.knative.dev/progress-deadline",
]);

const POD_FIELDS = new Set([
  "serviceAccountName",
  "containers",
  "volumes",
  "imagePullSecrets",
  "enableServiceLinks",
  "automountServiceAccountToken",
  "timeoutSeconds",
  "containerConcurrency",
  "responseStartTimeoutSeconds",
  "idleTimeoutSeconds",
]);
/** Pod fields Knative only accepts with a `kubernetes.podspec-*` feature flag, all disabled by default. */
const FEATURE_POD_FIELDS = new Set([
  "affinity",
  "hostAliases",
  "nodeSelector",
  "runtimeClassName",
  "tolerations",
  "securityContext",
  "priorityClassName",
  "schedulerName",
  "initContainers",
  "topologySpreadConstraints",
  "dnsPolicy",
  "dnsConfig",
  "hostNetwork",
  "hostPID",
  "hostIPC",
  "shareProcessNamespace",
]);
const VOLUME_SOURCES = new Set(["secret", "configMap", "projected", "emptyDir"]);
/** Volume sources Knative takes only with a feature flag of `config-features` (knative-serving), off by default. */
const FEATURE_VOLUME_SOURCES: Record<string, string> = {
  persistentVolumeClaim: "kubernetes.podspec-persistent-volume-claim",
  hostPath: "kubernetes.podspec-volumes-hostpath",
  csi: "kubernetes.podspec-volumes-csi",
  ephemeral: "kubernetes.podspec-volumes-ephemeral",
  image: "kubernetes.podspec-volumes-image",
};
const PROJECTED_SOURCES = new Set(["secret", "configMap", "serviceAccountToken", "downwardAPI"]);
const CONTAINER_FIELDS = new Set([
  "name",
  "args",
  "command",
  "env",
  "workingDir",
  "envFrom",
  "image",
  "imagePullPolicy",
  "livenessProbe",
  "ports",
  "readinessProbe",
  "startupProbe",
  "resources",
  "securityContext",
  "terminationMessagePath",
  "terminationMessagePolicy",
  "volumeMounts",
]);
const SECURITY_CONTEXT_FIELDS = new Set([
  "allowPrivilegeEscalation",
  "capabilities",
  "readOnlyRootFilesystem",
  "runAsGroup",
  "runAsNonRoot",
  "runAsUser",
  "seccompProfile",
]);

export function validateKnativeService(object: Json, sink: ProblemSink, options: WebhookOptions): void {
  const meta = isObject(object.metadata) ? object.metadata : {};
  const name = str(meta.name);
  if (name !== undefined) {
    const why = checkDns1035Label(name);
    if (why) sink.error("metadata.name", "name", `not a DNS 1035 label: ${why}`);
  }
  const labels = isObject(meta.labels) ? meta.labels : {};
  const visibility = labels["networking.knative.dev/visibility"];
  if (visibility !== undefined && visibility !== "cluster-local") {
    sink.error(
      "metadata.labels[networking.knative.dev/visibility]",
      "visibility",
      `invalid value: ${String(visibility)}: only cluster-local`,
    );
  }
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  for (const key of Object.keys(annotations)) {
    if (key.startsWith(AS)) {
      sink.error(
        `metadata.annotations[${key}]`,
        "autoscaling-annotation-placement",
        'autoscaling annotations must be put under "spec.template.metadata.annotations" to work',
      );
    }
  }
  validateServingAnnotations(annotations, "metadata.annotations", sink);

  const spec = isObject(object.spec) ? object.spec : undefined;
  const template = spec && isObject(spec.template) ? spec.template : undefined;
  if (template === undefined) {
    sink.error("spec.template", "required", "missing field(s): spec.template");
    return;
  }
  const tmeta = isObject(template.metadata) ? template.metadata : {};
  const tannotations = isObject(tmeta.annotations) ? tmeta.annotations : {};
  validateAutoscalingAnnotations(tannotations, "spec.template.metadata.annotations", sink, options);
  validateServingAnnotations(tannotations, "spec.template.metadata.annotations", sink);
  const tname = str(tmeta.name);
  if (tname !== undefined && name !== undefined) {
    const why = checkDns1035Label(tname);
    if (why) sink.error("spec.template.metadata.name", "name", `not a DNS 1035 label: ${why}`);
    else if (!tname.startsWith(`${name}-`))
      sink.error(
        "spec.template.metadata.name",
        "name",
        `${JSON.stringify(tname)} must have prefix ${JSON.stringify(`${name}-`)}`,
      );
  }
  const podSpec = isObject(template.spec) ? template.spec : undefined;
  if (podSpec === undefined) {
    sink.error("spec.template.spec", "required", "missing field(s): spec.template.spec");
    return;
  }
  validateRevisionSpec(podSpec, "spec.template.spec", sink, options);
}

function validateServingAnnotations(annotations: Json, path: string, sink: ProblemSink): void {
  for (const key of Object.keys(annotations)) {
    if (key.startsWith("serving.knative.dev/") && !ALLOWED_SERVING_ANNOTATIONS.has(key)) {
      sink.error(`${path}[${key}]`, "serving-annotation", `invalid key name ${JSON.stringify(key)}`);
    }
  }
  const qp = annotations["queue.sidecar.serving.knative.dev/resourcePercentage"];
  if (qp !== undefined) {
    const v = Number(qp);
    if (!Number.isFinite(v) || v < 0.1 || v > 100) {
      sink.error(
        `${path}[queue.sidecar.serving.knative.dev/resourcePercentage]`,
        "serving-annotation",
        `expected 0.1 <= ${String(qp)} <= 100`,
      );
    }
  }
}

/** The value of the first present key among the current and legacy spellings. */
function pick(annotations: Json, ...names: string[]): [key: string, value: string] | undefined {
  const present = names.filter((n) => annotations[AS + n] !== undefined);
  if (present.length === 0) return undefined;
  const key = AS + present[0]!;
  return [key, String(annotations[key])];
}

function intGE0(annotations: Json, path: string, sink: ProblemSink, ...names: string[]): number | undefined {
  const found = pick(annotations, ...names);
  if (found === undefined) return undefined;
  const [key, value] = found;
  if (!/^[+-]?\d+$/.test(value)) {
    sink.error(`${path}[${key}]`, "autoscaling-annotation", `invalid value: ${value}: an integer`);
    return undefined;
  }
  const n = Number(value);
  if (n < 0 || n > 2147483647) {
    sink.error(`${path}[${key}]`, "autoscaling-annotation", `expected 0 <= ${value} <= 2147483647`);
    return undefined;
  }
  return n;
}

function validateAutoscalingAnnotations(
  annotations: Json,
  path: string,
  sink: ProblemSink,
  options: WebhookOptions,
): void {
  const at = (key: string) => `${path}[${key}]`;
  const cls = pick(annotations, "class");
  const kpa = cls === undefined || cls[1] === "kpa.autoscaling.knative.dev";
  if (
    cls !== undefined &&
    cls[1].endsWith("autoscaling.knative.dev") &&
    !["kpa.autoscaling.knative.dev", "hpa.autoscaling.knative.dev"].includes(cls[1])
  ) {
    sink.error(at(cls[0]), "autoscaling-annotation", `invalid value: ${cls[1]}`);
  }
  const min = intGE0(annotations, path, sink, "min-scale", "minScale") ?? 0;
  const max = intGE0(annotations, path, sink, "max-scale", "maxScale") ?? 0;
  const maxFound = pick(annotations, "max-scale", "maxScale");
  if (max !== 0 && max < min)
    sink.error(at(maxFound![0]), "autoscaling-scale-bounds", `max-scale=${max} is less than min-scale=${min}`);
  if (maxFound !== undefined && options.maxScaleLimit > 0) {
    if (max > options.maxScaleLimit)
      sink.error(at(maxFound[0]), "autoscaling-scale-bounds", `expected 1 <= ${max} <= ${options.maxScaleLimit}`);
    if (max === 0)
      sink.error(
        at(maxFound[0]),
        "autoscaling-scale-bounds",
        `max-scale=0 (unlimited), must be less than ${options.maxScaleLimit}`,
      );
  }
  const activation = pick(annotations, "activation-scale");
  if (activation !== undefined) {
    const n = Number(activation[1]);
    if (!/^\d+$/.test(activation[1]))
      sink.error(at(activation[0]), "autoscaling-annotation", `invalid value: ${activation[1]}`);
    else if (min > n)
      sink.error(
        at(activation[0]),
        "autoscaling-scale-bounds",
        `min-scale=${min} is greater than min-activate-scale=${n}`,
      );
    else if (max !== 0 && max < n)
      sink.error(
        at(activation[0]),
        "autoscaling-scale-bounds",
        `max-scale=${max} is less than min-activate-scale=${n}`,
      );
    else if (n < 2)
      sink.error(at(activation[0]), "autoscaling-scale-bounds", `min-activate-scale=${n} must be greater than 1`);
  }
  const float = (names: string[], check: (v: number) => string | undefined) => {
    const found = pick(annotations, ...names);
    if (found === undefined) return;
    const v = Number(found[1]);
    if (found[1].trim() === "" || !Number.isFinite(v))
      sink.error(at(found[0]), "autoscaling-annotation", `invalid value: ${found[1]}`);
    else {
      const why = check(v);
      if (why) sink.error(at(found[0]), "autoscaling-annotation", why);
    }
  };
  float(["panic-window-percentage", "panicWindowPercentage"], (v) =>
    v < 1 || v > 100 ? `expected 1 <= ${v} <= 100` : undefined,
  );
  float(["panic-threshold-percentage", "panicThresholdPercentage"], (v) =>
    v < 110 || v > 1000 ? `expected 110 <= ${v} <= 1000` : undefined,
  );
  float(["target"], (v) => (v < 0.01 ? `target ${v} should be at least 0.01` : undefined));
  float(["target-utilization-percentage", "targetUtilizationPercentage"], (v) =>
    v < 1 || v > 100 ? `expected 1 <= ${v} <= 100` : undefined,
  );
  float(["target-burst-capacity", "targetBurstCapacity"], (v) =>
    v < 0 && v !== -1 ? `invalid value: ${v}: >= 0 or -1` : undefined,
  );
  const duration = (names: string[], minMs: number, wholeSeconds: boolean) => {
    const found = pick(annotations, ...names);
    if (found === undefined) return;
    const ms = parseGoDuration(found[1]);
    if (ms === undefined)
      sink.error(at(found[0]), "go-duration", `invalid value: ${found[1]}: a duration such as 60s or 1m30s`);
    else if (ms < minMs || ms > 3_600_000)
      sink.error(at(found[0]), "autoscaling-annotation", `expected ${minMs / 1000}s <= ${found[1]} <= 1h0m0s`);
    else if (wholeSeconds && ms % 1000 !== 0)
      sink.error(at(found[0]), "autoscaling-annotation", "must be specified with at most second precision");
  };
  duration(["window"], 6000, true);
  duration(["scale-down-delay", "scaleDownDelay"], 0, true);
  duration(["scale-to-zero-pod-retention-period", "scaleToZeroPodRetentionPeriod"], 0, false);
  const metric = pick(annotations, "metric");
  if (metric !== undefined && kpa && metric[1] !== "concurrency" && metric[1] !== "rps") {
    sink.error(
      at(metric[0]),
      "autoscaling-annotation",
      `invalid value: ${metric[1]}: concurrency or rps for the KPA autoscaler`,
    );
  }
  const algorithm = pick(annotations, "metric-aggregation-algorithm", "metricAggregationAlgorithm");
  if (
    algorithm !== undefined &&
    cls !== undefined &&
    cls[1] === "kpa.autoscaling.knative.dev" &&
    !["linear", "weightedExponential", "weighted-exponential"].includes(algorithm[1])
  ) {
    sink.error(at(algorithm[0]), "autoscaling-annotation", `invalid value: ${algorithm[1]}`);
  }
  const initial = pick(annotations, "initial-scale", "initialScale");
  if (initial !== undefined) {
    if (!/^[+-]?\d+$/.test(initial[1]))
      sink.error(at(initial[0]), "autoscaling-annotation", `invalid value: ${initial[1]}`);
    else if (Number(initial[1]) < 0)
      sink.error(at(initial[0]), "autoscaling-annotation", `invalid value: ${initial[1]}: must be greater than 0`);
    else if (Number(initial[1]) === 0 && !options.allowZeroInitialScale) {
      sink.error(
        at(initial[0]),
        "autoscaling-initial-scale",
        "initial-scale=0 not allowed by cluster (allow-zero-initial-scale)",
      );
    }
  }
}

function validateRevisionSpec(podSpec: Json, path: string, sink: ProblemSink, options: WebhookOptions): void {
  for (const key of Object.keys(podSpec)) {
    if (POD_FIELDS.has(key)) continue;
    const why = FEATURE_POD_FIELDS.has(key) ? " (needs its kubernetes.podspec-* feature flag)" : "";
    sink.error(join(path, key), "serving-disallowed-field", `must not set the field(s): ${key}${why}`);
  }
  if (podSpec.automountServiceAccountToken === true) {
    sink.error(
      join(path, "automountServiceAccountToken"),
      "serving-disallowed-field",
      "must not set the field(s): automountServiceAccountToken (only false is allowed)",
    );
  }
  const timeout = podSpec.timeoutSeconds;
  if (
    timeout !== undefined &&
    typeof timeout === "number" &&
    timeout !== 0 &&
    (timeout < 0 || timeout > options.maxRevisionTimeoutSeconds)
  ) {
    sink.error(
      join(path, "timeoutSeconds"),
      "timeout-seconds",
      `expected 0 <= ${timeout} <= ${options.maxRevisionTimeoutSeconds}`,
    );
  }
  const cc = podSpec.containerConcurrency;
  if (cc !== undefined && typeof cc === "number" && (cc < 0 || cc > options.containerConcurrencyMaxLimit)) {
    sink.error(
      join(path, "containerConcurrency"),
      "container-concurrency",
      `expected 0 <= ${cc} <= ${options.containerConcurrencyMaxLimit}`,
    );
  }
  const sa = str(podSpec.serviceAccountName);
  if (sa !== undefined && checkDns1123Subdomain(sa) !== undefined) {
    sink.error(join(path, "serviceAccountName"), "name", `invalid value: ${sa}`);
  }
  const volumes = new Set<string>();
  if (Array.isArray(podSpec.volumes)) {
    podSpec.volumes.forEach((v, i) => {
      const n = isObject(v) ? str(v.name) : undefined;
      if (n === undefined) sink.error(`${path}.volumes[${i}].name`, "required", "missing field(s): name");
      else if (volumes.has(n))
        sink.error(`${path}.volumes[${i}].name`, "serving-volume", `duplicate volume name ${JSON.stringify(n)}`);
      else volumes.add(n);
      if (isObject(v)) validateVolume(v, `${path}.volumes[${i}]`, sink);
    });
  }
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers : [];
  if (containers.length === 0) {
    sink.error(join(path, "containers"), "required", "missing field(s): containers");
    return;
  }
  const mounted = new Set<string>();
  let withPorts = 0;
  containers.forEach((c, i) => {
    const cpath = `${path}.containers[${i}]`;
    if (!isObject(c)) {
      sink.error(cpath, "schema", "a container must be an object");
      return;
    }
    if (Array.isArray(c.ports) && c.ports.length > 0) withPorts++;
    if (Array.isArray(c.volumeMounts))
      for (const m of c.volumeMounts) if (isObject(m) && str(m.name)) mounted.add(m.name as string);
    validateContainer(
      c,
      cpath,
      sink,
      volumes,
      containers.length === 1 || (Array.isArray(c.ports) && c.ports.length > 0),
    );
  });
  if (containers.length > 1 && withPorts !== 1) {
    sink.error(
      join(path, "containers"),
      "serving-ports",
      withPorts === 0
        ? "missing field(s): ports (exactly one container serves)"
        : "expected exactly one, got both: ports",
    );
  }
  for (const v of volumes)
    if (!mounted.has(v))
      sink.error(join(path, "volumes"), "serving-volume", `volume with name ${JSON.stringify(v)} not mounted`);
}

/**
 * A volume as Knative Serving takes it (k8s_validation.go validateVolume, validateProjectedVolumeSource; fieldmask.go):
 * a DNS-1123 label name and exactly one source, `secret`, `configMap`, `projected` or (on by default) `emptyDir`, the
 * others only with their `kubernetes.podspec-*` feature flag; a projected source is exactly one of `secret`,
 * `configMap`, `serviceAccountToken` (only `audience`, `expirationSeconds` and a required `path`) and `downwardAPI`.
 */
function validateVolume(volume: Json, path: string, sink: ProblemSink): void {
  const name = str(volume.name);
  if (name !== undefined && checkDns1123Label(name) !== undefined)
    sink.error(join(path, "name"), "serving-volume", `invalid value: ${name}`);
  const sources = Object.keys(volume).filter((key) => key !== "name");
  for (const key of sources) {
    if (VOLUME_SOURCES.has(key)) continue;
    const flag = FEATURE_VOLUME_SOURCES[key];
    sink.error(
      join(path, key),
      "serving-volume",
      flag === undefined
        ? `must not set the field(s): ${key}`
        : `${key} volumes need the ${flag} feature flag (disabled by default)`,
    );
  }
  if (sources.length === 0)
    sink.error(path, "serving-volume", "expected exactly one, got neither: configMap, emptyDir, projected, secret");
  else if (sources.length > 1)
    sink.error(path, "serving-volume", `expected exactly one, got both: ${sources.join(", ")}`);
  for (const kind of ["secret", "configMap"] as const) {
    if (isObject(volume[kind])) keysToPaths(volume[kind].items, join(path, kind), sink);
  }
  const projected = volume.projected;
  if (!isObject(projected)) return;
  const list = Array.isArray(projected.sources) ? projected.sources : [];
  list.forEach((source, i) => {
    const at = `${join(path, "projected")}.sources[${i}]`;
    if (!isObject(source)) return;
    const kinds = Object.keys(source);
    for (const key of kinds) {
      if (!PROJECTED_SOURCES.has(key)) sink.error(join(at, key), "serving-volume", `must not set the field(s): ${key}`);
    }
    if (kinds.length !== 1) {
      sink.error(
        at,
        "serving-volume",
        kinds.length === 0
          ? "expected exactly one, got neither: configMap, downwardAPI, secret, serviceAccountToken"
          : `expected exactly one, got both: ${kinds.join(", ")}`,
      );
    }
    const token = source.serviceAccountToken;
    if (isObject(token)) {
      for (const key of Object.keys(token)) {
        if (!["audience", "expirationSeconds", "path"].includes(key))
          sink.error(join(at, "serviceAccountToken", key), "serving-volume", `must not set the field(s): ${key}`);
      }
      if (!str(token.path)) sink.error(join(at, "serviceAccountToken", "path"), "required", "missing field(s): path");
    }
    for (const kind of ["secret", "configMap"] as const) {
      const projection = source[kind];
      if (!isObject(projection)) continue;
      if (!str(projection.name)) sink.error(join(at, kind, "name"), "required", "missing field(s): name");
      keysToPaths(projection.items, join(at, kind), sink);
    }
  });
}

function keysToPaths(items: unknown, path: string, sink: ProblemSink): void {
  if (!Array.isArray(items)) return;
  items.forEach((item, i) => {
    if (!isObject(item)) return;
    if (!str(item.key)) sink.error(`${path}.items[${i}].key`, "required", "missing field(s): key");
    if (!str(item.path)) sink.error(`${path}.items[${i}].path`, "required", "missing field(s): path");
  });
}

function validateContainer(c: Json, path: string, sink: ProblemSink, volumes: Set<string>, serving: boolean): void {
  for (const key of Object.keys(c)) {
    if (!CONTAINER_FIELDS.has(key))
      sink.error(join(path, key), "serving-disallowed-field", `must not set the field(s): ${key}`);
  }
  if (c.name === "queue-proxy")
    sink.error(join(path, "name"), "serving-container-name", '"queue-proxy" is a reserved container name');
  const image = str(c.image);
  if (image === undefined || image === "") sink.error(join(path, "image"), "required", "missing field(s): image");
  else if (parseImageRef(image) === undefined)
    sink.error(join(path, "image"), "image-ref", `Failed to parse image reference ${JSON.stringify(image)}`);
  const seen = new Set<string>();
  if (Array.isArray(c.env)) {
    c.env.forEach((e, i) => {
      const epath = `${path}.env[${i}]`;
      if (!isObject(e) || !str(e.name)) {
        sink.error(join(epath, "name"), "required", "missing field(s): name");
        return;
      }
      const name = e.name as string;
      if (RESERVED_ENV.has(name))
        sink.error(
          join(epath, "name"),
          "serving-reserved-env",
          `${JSON.stringify(name)} is a reserved environment variable`,
        );
      if (seen.has(name)) sink.warn(join(epath, "name"), "env-unique", `${name} is set twice: the last one wins`);
      seen.add(name);
      if (isObject(e.valueFrom)) {
        for (const key of Object.keys(e.valueFrom)) {
          if (key !== "secretKeyRef" && key !== "configMapKeyRef") {
            sink.error(join(epath, "valueFrom", key), "serving-disallowed-field", `must not set the field(s): ${key}`);
          }
        }
      }
    });
  }
  if (Array.isArray(c.ports)) {
    if (c.ports.length > 1)
      sink.error(
        join(path, "ports"),
        "serving-ports",
        "More than one container port is set: only a single port is allowed",
      );
    const port = c.ports[0];
    if (isObject(port)) {
      const p = port.containerPort;
      if (typeof p === "number" && RESERVED_PORTS.has(p))
        sink.error(
          join(path, "ports[0].containerPort"),
          "serving-reserved-port",
          `invalid value: ${p}: reserved by Knative`,
        );
      if (typeof p === "number" && (p < 0 || p > 65535))
        sink.error(join(path, "ports[0].containerPort"), "serving-ports", `expected 0 <= ${p} <= 65535`);
      if (port.protocol !== undefined && port.protocol !== "TCP")
        sink.error(join(path, "ports[0].protocol"), "serving-ports", `invalid value: ${String(port.protocol)}`);
      if (port.name !== undefined && !["", "h2c", "http1"].includes(String(port.name))) {
        sink.error(
          join(path, "ports[0].name"),
          "serving-ports",
          `Port name ${String(port.name)} is not allowed: must be empty, or one of: 'h2c', 'http1'`,
        );
      }
      for (const key of Object.keys(port)) {
        if (!["containerPort", "name", "protocol"].includes(key))
          sink.error(join(path, "ports[0]", key), "serving-disallowed-field", `must not set the field(s): ${key}`);
      }
    }
  }
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"] as const) {
    const p = c[probe];
    if (p === undefined) continue;
    if (!serving && probe !== "startupProbe") continue;
    if (!isObject(p)) continue;
    const handlers = ["httpGet", "tcpSocket", "exec", "grpc"].filter((h) => p[h] !== undefined);
    if (handlers.length === 0)
      sink.error(
        join(path, probe),
        "serving-probe",
        "expected exactly one, got neither: httpGet, tcpSocket, exec, grpc",
      );
    if (handlers.length > 1)
      sink.error(join(path, probe), "serving-probe", `expected exactly one, got both: ${handlers.join(", ")}`);
  }
  const sc = c.securityContext;
  if (isObject(sc)) {
    for (const key of Object.keys(sc)) {
      if (!SECURITY_CONTEXT_FIELDS.has(key))
        sink.error(join(path, "securityContext", key), "serving-disallowed-field", `must not set the field(s): ${key}`);
    }
    if (isObject(sc.capabilities) && sc.capabilities.add !== undefined) {
      const add = Array.isArray(sc.capabilities.add) ? sc.capabilities.add : [];
      if (add.some((cap) => cap !== "NET_BIND_SERVICE")) {
        sink.error(
          join(path, "securityContext.capabilities.add"),
          "serving-disallowed-field",
          "only NET_BIND_SERVICE may be added (without the containerspec-addcapabilities feature)",
        );
      }
    }
    for (const id of ["runAsUser", "runAsGroup"] as const) {
      const v = sc[id];
      if (typeof v === "number" && (v < 0 || v > 2147483647))
        sink.error(join(path, "securityContext", id), "serving-security-context", `expected 0 <= ${v} <= 2147483647`);
    }
  }
  if (Array.isArray(c.volumeMounts)) {
    const paths = new Set<string>();
    c.volumeMounts.forEach((m, i) => {
      const mpath = `${path}.volumeMounts[${i}]`;
      if (!isObject(m)) return;
      if (!volumes.has(String(m.name)))
        sink.error(join(mpath, "name"), "serving-volume", "volumeMount has no matching volume");
      const mountPath = str(m.mountPath);
      if (!mountPath) sink.error(join(mpath, "mountPath"), "required", "missing field(s): mountPath");
      else {
        const clean = mountPath.replace(/\/+$/, "") || "/";
        if (RESERVED_PATHS.has(clean))
          sink.error(
            join(mpath, "mountPath"),
            "serving-volume",
            `mountPath ${JSON.stringify(clean)} is a reserved path`,
          );
        else if (!clean.startsWith("/"))
          sink.error(join(mpath, "mountPath"), "serving-volume", `invalid value: ${mountPath}: must be absolute`);
        else if (paths.has(clean))
          sink.error(join(mpath, "mountPath"), "serving-volume", `${JSON.stringify(mountPath)} must be unique`);
        paths.add(clean);
      }
      if (m.readOnly !== true)
        sink.error(join(mpath, "readOnly"), "serving-volume", "missing field(s): readOnly (mounts must be read-only)");
    });
  }
}
