import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { EmbeddedBroker } from "../../eventing/broker/broker.ts";
import { type BrokerCounters, sumCounters } from "../../eventing/broker/counters.ts";
import { readDeliverySpec } from "../../eventing/broker/delivery-spec.ts";
import { brokerIngressUrl, resolveDestination } from "../../eventing/broker/destination.ts";
import { createIngress, type Ingress } from "../../eventing/broker/ingress.ts";
import { type Log, silentLog } from "../../eventing/broker/log.ts";
import { serveIngressOnNode } from "../../eventing/broker/node-ingress.ts";
import {
  describeObject,
  isRecord,
  type KnativeObject,
  namespaceOf,
  ObjectError,
} from "../../eventing/broker/objects.ts";
import { bindTrigger, type CompiledTrigger, parseTrigger } from "../../eventing/broker/trigger.ts";
import { serveIngressOnWeb } from "../../eventing/broker/web-ingress.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../../eventing/cloudevent/body.ts";
import type { FetchHandler } from "../../eventing/delivery/app-transport.ts";
import type { DeliveryPolicy } from "../../eventing/delivery/delivery-policy.ts";
import { createHttp1Transport } from "../../eventing/delivery/http1-transport.ts";
import type { Transport } from "../../eventing/delivery/transport.ts";
import { type CompiledPingSource, compilePingSource } from "../../eventing/ping/ping-source.ts";
import { PingScheduler } from "../../eventing/ping/scheduler.ts";
import { formatProblem, loadManifestDir, type Problem, validateObjects } from "../../knative/validate/index.ts";
import { repoRoot } from "../repo-root.ts";
import { classifyUrl } from "./cluster-url.ts";
import { buildFunctionEnv } from "./function-env.ts";
import { type FunctionPlan, type MountedFunction, mountAsProcess, mountInProcess } from "./function-mounts.ts";
import { sortObjects } from "./objects.ts";
import { type PathRoute, PathRouter, routesFor } from "./path-routes.ts";
import { createRoutingFetch, createRoutingTransport } from "./routing-transport.ts";
import { createSecretResolver } from "./secrets.ts";

/**
 * `knclaw dev` as a library: runs a set of Knative objects on one port. The CLI and the tests both start it; tests on
 * port 0 with Triggers pointed at their own HTTP servers.
 */
export interface DevOptions {
  objects: readonly KnativeObject[];
  /** Extra Knative YAML (Brokers, Triggers to any URL, PingSources) loaded and checked like the rest. */
  manifestsDir?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the dev runtime has no authentication of its own. */
  host?: string;
  /** The memory service uses Redis at this URL instead of its embedded backend. */
  redisUrl?: string;
  /** Run each function's main.ts as a child process instead of mounting its app in this process. */
  processes?: boolean;
  log?: Log;
  /** Repository root the `knclaw.dev/entry` paths are relative to. */
  root?: string;
  /** Where secretKeyRef values may come from (default process.env). */
  env?: Record<string, string | undefined>;
  maxBodyBytes?: number;
  /** How long shutdown lets in-flight deliveries (and their retries) run before aborting them. Default 30 s. */
  drainTimeoutMs?: number;
  /** Fire PingSources on their schedules (default true); tests fire ticks with `pings.fire` instead. */
  schedulePings?: boolean;
  /** Clock stamped on PingSource events. */
  now?: () => Date;
  broker?: { maxPendingDeliveries?: number; maxPendingBytes?: number; maxConcurrentAttempts?: number };
}

export interface DevBrokerInfo {
  namespace: string;
  name: string;
  url: string;
  broker: EmbeddedBroker;
}

export interface DevFunctionInfo {
  namespace: string;
  name: string;
  clusterUrl: string;
  localUrl: string;
  paths: PathRoute[];
  mounted: MountedFunction;
}

export interface DevRuntime {
  url: string;
  port: number;
  brokers: DevBrokerInfo[];
  triggers: CompiledTrigger[];
  functions: DevFunctionInfo[];
  pings: PingScheduler;
  pingSources: CompiledPingSource[];
  /** Services that are declared but cannot run here (no `knclaw.dev/entry`). */
  skippedServices: string[];
  /** Counters summed over all brokers. */
  readonly counters: BrokerCounters;
  /** In-process fetch: cluster URLs reach the broker and mounted functions without a socket. */
  fetch: typeof fetch;
  /** Resolves when no broker has a delivery pending. */
  idle(): Promise<void>;
  /** Stop accepting, finish in-flight deliveries (until the drain deadline), stop functions, close the port. */
  shutdown(): Promise<void>;
}

/** Objects that would not be accepted by a cluster: every problem names the object, the field and the rule. */
export class InvalidObjectsError extends Error {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(
      `refusing to start: ${problems.length} invalid object${problems.length === 1 ? "" : "s"}\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`,
    );
    this.name = "InvalidObjectsError";
    this.problems = problems;
  }
}

interface BrokerDef {
  namespace: string;
  name: string;
  delivery?: DeliveryPolicy;
}

const ENTRY_ANNOTATION = "knclaw.dev/entry";
const MEMORY_BACKEND_ENV = "KNCLAW_MEMORY_BACKEND";
const REDIS_URL_ENV = "KNCLAW_REDIS_URL";
const AGENT_KEYS_ENV = "KNCLAW_AGENT_KEYS";
const COMPONENT_LABEL = "knclaw.dev/component";

export async function startDev(options: DevOptions): Promise<DevRuntime> {
  const log = options.log ?? silentLog;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const extra = options.manifestsDir ? (loadManifestDir(options.manifestsDir) as unknown as KnativeObject[]) : [];
  const all = [...options.objects, ...extra];
  // Knative's webhook rules (knative/validate) first, so a Trigger that would not apply on a cluster does not run here.
  const problems = validateObjects(all, { checkReferences: true });
  for (const warning of problems.filter((p) => p.severity === "warning"))
    log.warn({ problem: formatProblem(warning) }, "object warning");
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length > 0) throw new InvalidObjectsError(errors);
  const sorted = sortObjects(all);

  // Everything is read and checked before anything listens: an invalid object means no start at all.
  const brokerDefs = sorted.brokers.map(readBroker);
  const brokerKey = (ns: string, name: string) => `${ns}/${name}`;
  const defsByKey = new Map(brokerDefs.map((def) => [brokerKey(def.namespace, def.name), def]));
  const triggers = sorted.triggers.map((object) => {
    const parsed = parseTrigger(object);
    const def = defsByKey.get(brokerKey(parsed.namespace, parsed.broker));
    if (!def) {
      throw new ObjectError(
        describeObject(object),
        "spec.broker",
        "broker-exists",
        `no Broker ${parsed.namespace}/${parsed.broker} is defined`,
      );
    }
    return bindTrigger(parsed, def.delivery);
  });
  const pingSources = sorted.pingSources.map(compilePingSource);
  const services = sorted.services.filter(
    (service) => typeof service.metadata.annotations?.[ENTRY_ANNOTATION] === "string",
  );
  const skippedServices = sorted.services.filter((service) => !services.includes(service)).map(describeObject);
  for (const skipped of skippedServices) log.warn({ service: skipped }, `not run: no ${ENTRY_ANNOTATION} annotation`);
  const router = new PathRouter(services.flatMap((service) => routesFor(service, namespaceOf(service))));
  const sinkFor = sinkBindingResolver(sorted.sinkBindings, brokerDefs);

  const mounted = new Map<string, MountedFunction>();
  const brokers = new Map<string, EmbeddedBroker>();
  const maxConcurrentAttempts = options.broker?.maxConcurrentAttempts ?? 256;
  // As many sockets per host as attempts may be in flight, so no attempt queues twice (semaphore, then agent).
  const httpTransport = createHttp1Transport({ maxSocketsPerHost: maxConcurrentAttempts });
  let ingress: Ingress;
  const ingressHandler: FetchHandler = { fetch: (request) => serveIngressOnWeb(ingress, request) };
  const targets = {
    ingress: ingressHandler,
    service: (namespace: string, name: string) => mounted.get(`${namespace}/${name}`)?.handler,
  };
  const transport: Transport = createRoutingTransport(targets, httpTransport);
  for (const def of brokerDefs) {
    const broker = new EmbeddedBroker({
      namespace: def.namespace,
      name: def.name,
      delivery: def.delivery,
      transport,
      address: brokerIngressUrl(def.namespace, def.name),
      maxResponseBytes: maxBodyBytes,
      log,
      ...options.broker,
      maxConcurrentAttempts,
    });
    broker.setTriggers(triggers);
    brokers.set(brokerKey(def.namespace, def.name), broker);
  }
  ingress = createIngress((ns, name) => brokers.get(brokerKey(ns, name)), { maxBodyBytes });

  const server = createDevServer(ingress, brokers, router, mounted, log);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const publicHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const url = `http://${publicHost}:${port}`;

  const pings = new PingScheduler({ transport, maxResponseBytes: maxBodyBytes, log, now: options.now });
  const functions: DevFunctionInfo[] = [];
  const shutdownParts = async () => {
    await Promise.allSettled([...mounted.values()].map((fn) => fn.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    httpTransport.close();
  };

  try {
    const mountedNames = new Set(services.map((service) => `${namespaceOf(service)}/${service.metadata.name}`));
    const rewrite = clusterUrlRewriter(url, mountedNames);
    const secrets = createSecretResolver(options.env ?? process.env);
    const configMaps = readConfigMaps(sorted.configMaps);
    const envs = services.map((service) => {
      const sink = sinkFor(service);
      const built = buildFunctionEnv(service, {
        secrets,
        configMaps,
        port,
        rewrite,
        sink: sink ? { url: rewrite(sink.url), ceOverrides: sink.ceOverrides } : undefined,
      });
      if (built.missing.length > 0) {
        log.warn(
          { service: describeObject(service), missing: built.missing },
          "secret values not found (set them in the environment)",
        );
      }
      if (options.redisUrl && built.env[MEMORY_BACKEND_ENV] !== undefined) {
        // The memory service reads REDIS_URL (functions/memory/config.ts); the renderer names it KNCLAW_REDIS_URL.
        built.env[MEMORY_BACKEND_ENV] = "redis";
        built.env.REDIS_URL = options.redisUrl;
        built.env[REDIS_URL_ENV] = options.redisUrl;
      }
      return built;
    });
    // Skills trust the agent keys generated for this session next to any the config declares.
    const generatedKeys = secrets.generatedAgentKeys();
    if (Object.keys(generatedKeys).length > 0) {
      services.forEach((service, index) => {
        if (service.metadata.labels?.[COMPONENT_LABEL] !== "skill") return;
        const env = envs[index]!.env;
        const declared = env[AGENT_KEYS_ENV] ? (JSON.parse(env[AGENT_KEYS_ENV]) as Record<string, unknown>) : {};
        env[AGENT_KEYS_ENV] = JSON.stringify({ ...generatedKeys, ...declared });
      });
    }
    for (const [index, service] of services.entries()) {
      const namespace = namespaceOf(service);
      const built = envs[index]!;
      const plan: FunctionPlan = {
        name: service.metadata.name,
        namespace,
        entry: service.metadata.annotations![ENTRY_ANNOTATION]!,
        env: built.env,
      };
      const root = options.root ?? repoRoot();
      const fn = options.processes
        ? await mountAsProcess(plan, {
            root,
            baseEnv: options.env ?? process.env,
            onOutput: (name, line) => log.info({ service: name }, line),
          })
        : await mountInProcess(plan, root);
      mounted.set(`${namespace}/${plan.name}`, fn);
      functions.push({
        namespace,
        name: plan.name,
        clusterUrl: `http://${plan.name}.${namespace}.svc.cluster.local`,
        localUrl: `${url}/functions/${plan.name}`,
        paths: router.list().filter((route) => route.service === `${namespace}/${plan.name}`),
        mounted: fn,
      });
    }
    for (const source of pingSources) pings.add(source);
    if (options.schedulePings !== false) pings.start();
  } catch (error) {
    await shutdownParts();
    throw error;
  }

  const brokerInfos: DevBrokerInfo[] = [...brokers.values()].map((broker) => ({
    namespace: broker.namespace,
    name: broker.name,
    url: `${url}/${broker.namespace}/${broker.name}`,
    broker,
  }));
  const idle = async () => {
    await Promise.all([...brokers.values()].map((broker) => broker.idle()));
  };
  let stopping: Promise<void> | undefined;
  const drainMs = options.drainTimeoutMs ?? 30_000;
  return {
    url,
    port,
    brokers: brokerInfos,
    triggers,
    functions,
    pings,
    pingSources,
    skippedServices,
    get counters() {
      return sumCounters([...brokers.values()].map((broker) => broker.counters));
    },
    fetch: createRoutingFetch(targets),
    idle,
    shutdown() {
      stopping ??= (async () => {
        // No new connections; ticks already firing still reach the ingress, then outside events get 503.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const started = Date.now();
        await pings.stop(drainMs);
        ingress.stopAccepting();
        await Promise.all(
          [...brokers.values()].map((broker) => broker.drain(Math.max(0, drainMs - (Date.now() - started)))),
        );
        await Promise.allSettled([...mounted.values()].map((fn) => fn.close()));
        server.closeAllConnections();
        await closed;
        httpTransport.close();
      })();
      return stopping;
    },
  };
}

function readBroker(object: KnativeObject): BrokerDef {
  const id = describeObject(object);
  const namespace = namespaceOf(object);
  const def: BrokerDef = { namespace, name: object.metadata.name };
  if (object.spec === undefined || object.spec === null) return def;
  if (!isRecord(object.spec)) throw new ObjectError(id, "spec", "broker-spec", "must be an object");
  for (const key of Object.keys(object.spec)) {
    if (key !== "config" && key !== "delivery")
      throw new ObjectError(id, `spec.${key}`, "unknown-field", "not a Broker spec field");
  }
  if (object.spec.delivery !== undefined && object.spec.delivery !== null) {
    def.delivery = readDeliverySpec(object.spec.delivery, namespace, id, "spec.delivery");
  }
  return def;
}

function readConfigMaps(objects: KnativeObject[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const object of objects) {
    const data: Record<string, string> = {};
    if (isRecord(object.data))
      for (const [key, value] of Object.entries(object.data)) if (typeof value === "string") data[key] = value;
    out.set(`${namespaceOf(object)}/${object.metadata.name}`, data);
  }
  return out;
}

/**
 * K_SINK and K_CE_OVERRIDES as SinkBindings inject them (subject by name or label selector). A ksvc no binding
 * targets still gets its namespace's Broker when there is exactly one, so a function can emit out of the box.
 */
function sinkBindingResolver(bindings: KnativeObject[], brokers: BrokerDef[]) {
  const compiled = bindings.map((binding) => {
    const id = describeObject(binding);
    const namespace = namespaceOf(binding);
    const spec = binding.spec;
    if (!isRecord(spec) || !isRecord(spec.subject))
      throw new ObjectError(id, "spec.subject", "required", "a SinkBinding needs a subject");
    const sink = resolveDestination(spec.sink, namespace, id, "spec.sink");
    let ceOverrides: string | undefined;
    if (isRecord(spec.ceOverrides)) ceOverrides = JSON.stringify({ extensions: spec.ceOverrides.extensions ?? {} });
    return { namespace, subject: spec.subject, sink, ceOverrides };
  });
  return (service: KnativeObject): { url: string; ceOverrides?: string } | undefined => {
    const namespace = namespaceOf(service);
    const labels = service.metadata.labels ?? {};
    for (const binding of compiled) {
      const subject = binding.subject;
      if ((typeof subject.namespace === "string" ? subject.namespace : binding.namespace) !== namespace) continue;
      if (subject.kind !== "Service" || subject.apiVersion !== "serving.knative.dev/v1") continue;
      const byName = typeof subject.name === "string" && subject.name === service.metadata.name;
      const selector =
        isRecord(subject.selector) && isRecord(subject.selector.matchLabels) ? subject.selector.matchLabels : undefined;
      const bySelector =
        selector !== undefined && Object.entries(selector).every(([key, value]) => labels[key] === value);
      if (byName || bySelector) return { url: binding.sink, ceOverrides: binding.ceOverrides };
    }
    const local = brokers.filter((broker) => broker.namespace === namespace);
    return local.length === 1 ? { url: brokerIngressUrl(namespace, local[0]!.name) } : undefined;
  };
}

/** Cluster URLs in env values -> where the target answers on the dev port. */
function clusterUrlRewriter(devUrl: string, mounted: ReadonlySet<string>): (value: string) => string {
  const pattern = /https?:\/\/[a-z0-9.-]+\.svc(?:\.[a-z0-9.-]+)?(?::\d+)?(?=[/"',\s]|$)/g;
  return (value) =>
    value.replace(pattern, (match) => {
      const target = classifyUrl(new URL(match));
      if (target.kind === "broker-ingress") return devUrl;
      if (target.kind === "service" && mounted.has(`${target.namespace}/${target.name}`))
        return `${devUrl}/functions/${target.name}`;
      return match;
    });
}

function createDevServer(
  ingress: Ingress,
  brokers: ReadonlyMap<string, EmbeddedBroker>,
  router: PathRouter,
  mounted: ReadonlyMap<string, MountedFunction>,
  log: Log,
): Server {
  const listeners = new Map<string, ReturnType<typeof getRequestListener>>();
  const listenerFor = (service: string) => {
    let listener = listeners.get(service);
    if (!listener) {
      listener = getRequestListener(async (request) => {
        const fn = mounted.get(service);
        if (!fn) return new Response(`${service} is starting\n`, { status: 503, headers: { "retry-after": "1" } });
        return fn.handler.fetch(request);
      });
      listeners.set(service, listener);
    }
    return listener;
  };
  const server = createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? "/";
    const query = raw.indexOf("?");
    const path = query >= 0 ? raw.slice(0, query) : raw;
    if (req.method === "POST") {
      const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
      if (brokers.has(trimmed.slice(1))) {
        void serveIngressOnNode(ingress, req, res);
        return;
      }
    }
    const match = router.match(path);
    if (match) {
      req.url = query >= 0 ? `${match.path}${raw.slice(query)}` : match.path;
      void Promise.resolve(listenerFor(match.route.service)(req, res)).catch((error: unknown) => {
        log.error({ err: error, service: match.route.service }, "function request failed");
        if (!res.headersSent) res.writeHead(500).end();
      });
      return;
    }
    void serveIngressOnNode(ingress, req, res);
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  return server;
}
