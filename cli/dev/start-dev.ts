import { EmbeddedBroker } from "../../eventing/broker/broker.ts";
import { type BrokerSpec, readBrokerSpec } from "../../eventing/broker/broker-spec.ts";
import { type BrokerCounters, sumCounters } from "../../eventing/broker/counters.ts";
import { brokerIngressUrl } from "../../eventing/broker/destination.ts";
import { createIngress } from "../../eventing/broker/ingress.ts";
import { type Log, silentLog } from "../../eventing/broker/log.ts";
import { describeObject, type KnativeObject, namespaceOf, ObjectError } from "../../eventing/broker/objects.ts";
import { bindTrigger, type CompiledTrigger, parseTrigger } from "../../eventing/broker/trigger.ts";
import { serveIngressOnWeb } from "../../eventing/broker/web-ingress.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../../eventing/cloudevent/body.ts";
import type { FetchHandler } from "../../eventing/delivery/app-transport.ts";
import { createHttpTransport } from "../../eventing/delivery/http-transport.ts";
import { type CompiledPingSource, compilePingSource } from "../../eventing/ping/ping-source.ts";
import { PingScheduler } from "../../eventing/ping/scheduler.ts";
import { repoRoot } from "../repo-root.ts";
import { type BrokerStoreChoice, describeBrokerStore, openBrokerStore } from "./broker-store.ts";
import { clusterUrlRewriter } from "./cluster-url.ts";
import { ConfigMapVolumes } from "./config-map-volumes.ts";
import { createDevServer, listen } from "./dev-server.ts";
import { type MountedFunction, mountAsProcess, mountCommand, mountInProcess } from "./function-mounts.ts";
import { loadDevObjects } from "./load-objects.ts";
import { DevOidc, type DevOidcOptions } from "./oidc.ts";
import { type PathRoute, PathRouter, routesFor } from "./path-routes.ts";
import type { NotReadyObject } from "./readiness.ts";
import { createRoutingFetch, createRoutingTransport } from "./routing-transport.ts";
import { type GeneratedSecretStore, memorySecretStore } from "./secret-store.ts";
import { createSecretResolver } from "./secrets.ts";
import { buildServiceEnvs } from "./service-envs.ts";
import { EMPTY_SERVICE_MAP, type ServiceCommands, type ServiceMap } from "./service-map.ts";
import { sinkBindingResolver } from "./sink-bindings.ts";

export { InvalidObjectsError } from "./load-objects.ts";

/**
 * `knclaw dev` as a library: runs a set of Knative objects on one port. The CLI and the tests both start it; tests on
 * port 0 with Triggers pointed at their own HTTP servers.
 */
export interface DevOptions {
  objects: readonly KnativeObject[];
  /**
   * Extra Knative YAML loaded and checked like the rest (load-objects.ts): Brokers, Triggers, PingSources,
   * SinkBindings, EventPolicies and Services act; other kinds are listed as not run; objects whose references do not
   * resolve here are listed as not Ready.
   */
  manifestsDir?: string;
  /** `--service NAME=URL`: Services that answer at a local URL (service-map.ts). */
  services?: ServiceMap;
  /** `--run NAME=COMMAND`: Services of the objects that knclaw dev starts from a local command (service-map.ts). */
  commands?: ServiceCommands;
  /** Eventing's cross-namespace-event-links feature (a Trigger's `spec.brokerRef` to another namespace). */
  crossNamespaceEventLinks?: boolean;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the dev runtime has no authentication of its own. */
  host?: string;
  /** The memory service uses Redis at this URL instead of its embedded backend. */
  redisUrl?: string;
  /** The memory service's Redis key prefix (`KNCLAW_REDIS_KEY_PREFIX`), when it is on Redis. */
  redisKeyPrefix?: string;
  /**
   * Where the functions write their log lines (`KNCLAW_LOG_STREAM`): `knclaw dev` says `stderr`, keeping its standard
   * output for the listing. Default: what their env says, else stdout, as in a container.
   */
  functionLogs?: "stdout" | "stderr";
  /**
   * The SQLite file the memory service's embedded backend keeps across restarts (`knclaw dev`: `memory.sqlite` in its
   * state directory). Default in memory (the library's fast path for tests); unused when the memory service is on Redis.
   */
  memoryPath?: string;
  /**
   * Where the secret values generated for this runtime are kept (`knclaw dev`: `secrets/` in its state directory, so
   * a restart keeps its keys). Default in memory.
   */
  secretStore?: GeneratedSecretStore;
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
  /**
   * The clock in-process functions decide with (expiries, deadlines, the memory service's due timers): tests move it
   * to let minutes pass at once. Not for `--processes`.
   */
  clock?: () => number;
  broker?: { maxPendingDeliveries?: number; maxPendingBytes?: number; maxConcurrentAttempts?: number };
  /**
   * Emulate Knative's `authentication-oidc` feature (cli/dev/oidc.ts): tokens on every delivery, authenticated senders
   * and EventPolicies at the brokers' ingress, identities for the functions. Off by default in the library (tests
   * post to the brokers as anyone); `knclaw dev` turns it on.
   */
  oidc?: DevOidcOptions;
  /**
   * Where accepted deliveries are kept until finished. Default in memory (the library's fast path for tests);
   * `knclaw dev` passes a durable store (cli/commands/dev.ts).
   */
  brokerStore?: BrokerStoreChoice;
}

interface DevBrokerInfo {
  namespace: string;
  name: string;
  url: string;
  broker: EmbeddedBroker;
}

interface DevFunctionInfo {
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
  /** Where the brokers keep accepted deliveries, for the listing. */
  brokerStore: string;
  triggers: CompiledTrigger[];
  functions: DevFunctionInfo[];
  /** The OIDC emulation when on: its issuer mints tokens for tests that play a sender. */
  oidc?: DevOidc;
  pings: PingScheduler;
  pingSources: CompiledPingSource[];
  /** Services that are declared but cannot run here (no `knclaw.dev/entry`, no `--service` mapping). */
  skippedServices: string[];
  /** `--service` mappings: where those Services answer. */
  mappedServices: ServiceMap["entries"];
  /** Admitted objects that do nothing because a reference does not resolve here, with Knative's condition. */
  notReady: NotReadyObject[];
  /** Manifest objects of kinds knclaw dev does not run. */
  notRun: string[];
  /** Counters summed over all brokers. */
  readonly counters: BrokerCounters;
  /** In-process fetch: cluster URLs reach the broker and mounted functions without a socket. */
  fetch: typeof fetch;
  /** The private key (PEM) a producer role signs with in a namespace, e.g. the operator's for `knclaw send --sign`. */
  signingKeyOf(role: string, namespace: string): string | undefined;
  /** Resolves when no broker has a delivery pending. */
  idle(): Promise<void>;
  /** Stop accepting, finish in-flight deliveries (until the drain deadline), stop functions, close the port. */
  shutdown(): Promise<void>;
}

const ENTRY_ANNOTATION = "knclaw.dev/entry";
const brokerKey = (namespace: string, name: string) => `${namespace}/${name}`;

export async function startDev(options: DevOptions): Promise<DevRuntime> {
  const log = options.log ?? silentLog;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxConcurrentAttempts = options.broker?.maxConcurrentAttempts ?? 256;

  // Everything is read and checked before anything listens: an invalid object means no start at all.
  const serviceMap = options.services ?? EMPTY_SERVICE_MAP;
  const commands = options.commands ?? EMPTY_SERVICE_MAP;
  const report = loadDevObjects(options.objects, options.manifestsDir, log, {
    authenticationOidc: options.oidc !== undefined,
    services: serviceMap,
    commands,
    ...(options.crossNamespaceEventLinks !== undefined
      ? { crossNamespaceEventLinks: options.crossNamespaceEventLinks }
      : {}),
  });
  const objects = report.objects;
  const brokerSpecs = objects.brokers.map(readBrokerSpec);
  const triggers = bindTriggers(objects.triggers, brokerSpecs);
  const pingSources = objects.pingSources.map(compilePingSource);
  const oidc = options.oidc
    ? await DevOidc.load(objects, options.secretStore ?? memorySecretStore(), options.oidc, log)
    : undefined;
  const storeChoice = options.brokerStore ?? { kind: "memory" };
  const journals = await openBrokerStore(storeChoice, log);
  // The memory service starts first: functions whose readiness depends on it (the deadletter) are waited for.
  const commandOf = (service: KnativeObject) => commands.lookup(namespaceOf(service), service.metadata.name);
  const services = objects.services
    .filter((service) => typeof service.metadata.annotations?.[ENTRY_ANNOTATION] === "string" || commandOf(service))
    .sort((a, b) => Number(isMemoryService(b)) - Number(isMemoryService(a)));
  const skippedServices = objects.services
    .filter(
      (service) =>
        !services.includes(service) && serviceMap.lookup(namespaceOf(service), service.metadata.name) === undefined,
    )
    .map(describeObject);
  for (const skipped of skippedServices) log.warn({ service: skipped }, `not run: no ${ENTRY_ANNOTATION} annotation`);
  const router = new PathRouter(services.flatMap((service) => routesFor(service, namespaceOf(service))));
  const sinkFor = sinkBindingResolver(objects.sinkBindings, brokerSpecs);

  // Deliveries: cluster URLs of what runs here are answered in-process, everything else over HTTP.
  const mounted = new Map<string, MountedFunction>();
  const brokers = new Map<string, EmbeddedBroker>();
  // As many sockets per host as attempts may be in flight, so no attempt queues twice.
  const httpTransport = createHttpTransport({ maxSocketsPerHost: maxConcurrentAttempts });
  // The ingress is created below, once the brokers exist; a Trigger whose subscriber is a Broker reaches it here.
  const ingressHandler: FetchHandler = { fetch: (request) => serveIngressOnWeb(ingress, request) };
  const targets = {
    ingress: ingressHandler,
    service: (namespace: string, name: string) => mounted.get(`${namespace}/${name}`)?.handler,
    mapped: (namespace: string, name: string) => serviceMap.lookup(namespace, name),
  };
  const transport = createRoutingTransport(targets, httpTransport);
  for (const [index, spec] of brokerSpecs.entries()) {
    const broker = new EmbeddedBroker({
      namespace: spec.namespace,
      name: spec.name,
      delivery: spec.delivery,
      transport,
      address: brokerIngressUrl(spec.namespace, spec.name),
      maxResponseBytes: maxBodyBytes,
      log,
      ...options.broker,
      maxConcurrentAttempts,
      journal: journals?.forBroker(spec.namespace, spec.name),
      tokens: oidc?.tokens,
      admission: oidc?.admissionFor(objects.brokers[index]!),
    });
    broker.setTriggers(triggers);
    brokers.set(brokerKey(spec.namespace, spec.name), broker);
  }
  const ingress = createIngress((ns, name) => brokers.get(brokerKey(ns, name)), { maxBodyBytes });

  const server = createDevServer(ingress, brokers, router, mounted, log, oidc && ((path) => oidc.wellKnown(path)));
  let listening: Awaited<ReturnType<typeof listen>>;
  try {
    listening = await listen(server, options.port ?? 8080, options.host ?? "127.0.0.1");
  } catch (error) {
    await journals?.close();
    throw error;
  }
  const { port, url } = listening;
  // The issuer is the dev server itself: its URL is known now, before any request is read.
  oidc?.bind(url);
  const pings = new PingScheduler({
    transport,
    maxResponseBytes: maxBodyBytes,
    log,
    now: options.now,
    tokens: oidc?.tokens,
  });
  const functions: DevFunctionInfo[] = [];

  const secrets = createSecretResolver(
    options.env ?? process.env,
    [...objects.services, ...objects.triggers],
    options.secretStore,
  );
  const volumes = new ConfigMapVolumes(log);
  try {
    const mountedNames = new Set(services.map((service) => `${namespaceOf(service)}/${service.metadata.name}`));
    const envs = buildServiceEnvs(services, {
      secrets,
      configMaps: objects.configMaps,
      port,
      rewrite: clusterUrlRewriter(url, mountedNames, serviceMap),
      sinkFor,
      redisUrl: options.redisUrl,
      redisKeyPrefix: options.redisKeyPrefix,
      functionLogs: options.functionLogs,
      memoryPath: options.memoryPath,
      volumes,
      log,
    });
    if (oidc) {
      for (const [index, service] of services.entries()) {
        await oidc.applyFunctionEnv(service, envs[index]!, sinkFor(service)?.audience, triggers);
      }
    }
    const root = options.root ?? repoRoot();
    for (const [index, service] of services.entries()) {
      const namespace = namespaceOf(service);
      const name = service.metadata.name;
      const command = commandOf(service);
      const entry = service.metadata.annotations?.[ENTRY_ANNOTATION];
      const plan = { name, namespace, entry: entry ?? "", env: envs[index]! };
      const onOutput = (service: string, line: string) => log.info({ service }, line);
      const baseEnv = options.env ?? process.env;
      const fn = command
        ? await mountCommand(plan, command, { cwd: process.cwd(), baseEnv, onOutput })
        : options.processes
          ? await mountAsProcess(plan, { root, baseEnv, onOutput })
          : await mountInProcess(plan, root, options.clock ? { now: options.clock } : {});
      mounted.set(`${namespace}/${name}`, fn);
      functions.push({
        namespace,
        name,
        clusterUrl: `http://${name}.${namespace}.svc.cluster.local`,
        localUrl: `${url}/functions/${name}`,
        paths: router.list().filter((route) => route.service === `${namespace}/${name}`),
        mounted: fn,
      });
    }
    // Deliveries stored before this start resume once their in-process subscribers are mounted.
    await Promise.all([...brokers.values()].map((broker) => broker.start()));
    for (const source of pingSources) pings.add(source);
    if (options.schedulePings !== false) pings.start();
  } catch (error) {
    await Promise.allSettled([...brokers.values()].map((broker) => broker.drain(0)));
    await Promise.allSettled([...mounted.values()].map((fn) => fn.close()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await httpTransport.close();
    await journals?.close();
    oidc?.close();
    volumes.close();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const drainMs = options.drainTimeoutMs ?? 30_000;
  return {
    url,
    port,
    brokers: [...brokers.values()].map((broker) => ({
      namespace: broker.namespace,
      name: broker.name,
      url: `${url}/${broker.namespace}/${broker.name}`,
      broker,
    })),
    brokerStore: describeBrokerStore(storeChoice),
    triggers,
    functions,
    ...(oidc ? { oidc } : {}),
    pings,
    pingSources,
    skippedServices,
    mappedServices: serviceMap.entries,
    notReady: report.notReady,
    notRun: report.notRun,
    get counters() {
      return sumCounters([...brokers.values()].map((broker) => broker.counters));
    },
    fetch: createRoutingFetch(targets),
    signingKeyOf: (role, namespace) => secrets.signingKeyOf(role, namespace),
    async idle() {
      await Promise.all([...brokers.values()].map((broker) => broker.idle()));
    },
    shutdown() {
      stopping ??= (async () => {
        const started = Date.now();
        // The functions reach each other and the brokers through this port: in-flight work keeps it while it
        // finishes, and its events keep being taken, which a durable journal stores (what the deadline cuts off
        // resumes at the next start). Without one, events taken now could be lost: outside events get 503 at once.
        const stopTaking = () => {
          ingress.stopAccepting();
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          return closed;
        };
        const closedEarly = journals === undefined ? stopTaking() : undefined;
        await pings.stop(drainMs);
        const left = () => Math.max(0, drainMs - (Date.now() - started));
        await Promise.all([...brokers.values()].map((broker) => broker.drain(left())));
        const closed = closedEarly ?? stopTaking();
        // Deliveries cut by the deadline stay stored; the journal closes once nothing writes to it any more.
        await journals?.close();
        await Promise.allSettled([...mounted.values()].map((fn) => fn.close()));
        server.closeAllConnections();
        await closed;
        await httpTransport.close();
        oidc?.close();
        volumes.close();
      })();
      return stopping;
    },
  };
}

function isMemoryService(service: KnativeObject): boolean {
  return service.metadata.labels?.["knclaw.dev/component"] === "memory";
}

/** Each Trigger bound to its Broker's delivery (only Ready Triggers get here: their Broker is defined and Ready). */
function bindTriggers(objects: KnativeObject[], brokers: BrokerSpec[]): CompiledTrigger[] {
  const byKey = new Map(brokers.map((spec) => [brokerKey(spec.namespace, spec.name), spec]));
  return objects.map((object) => {
    const parsed = parseTrigger(object);
    const spec = byKey.get(brokerKey(parsed.brokerNamespace, parsed.broker));
    if (!spec) {
      throw new ObjectError(
        describeObject(object),
        "spec.broker",
        "broker-exists",
        `no Broker ${parsed.brokerNamespace}/${parsed.broker} is defined`,
      );
    }
    return bindTrigger(parsed, spec.delivery);
  });
}
