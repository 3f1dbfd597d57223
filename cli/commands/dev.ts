import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { pino } from "pino";
import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { DEFAULT_AUTHORIZATION_MODES, type DefaultAuthorizationMode } from "../../eventing/broker/oidc/admission.ts";
import { memoryEnv } from "../../functions/memory/env.ts";
import { withPlaceholderImages } from "../../knative/config/images.ts";
import { defaultConfigPath, loadConfig } from "../../knative/config/index.ts";
import { LABEL_COMPONENT, LABEL_INSTANCE, render } from "../../knative/render/index.ts";
import { redactPaths } from "../../runtime/log.ts";
import { startTelemetry, type Telemetry } from "../../runtime/telemetry.ts";
import { type BrokerStoreChoice, configuredRedisKeyPrefix, configuredRedisUrl } from "../dev/broker-store.ts";
import { describeRuntime } from "../dev/listing.ts";
import type { DevOidcOptions } from "../dev/oidc.ts";
import { announceDevSender } from "../dev/operator-identity.ts";
import { fileSecretStore } from "../dev/secret-store.ts";
import { parseServiceCommands, parseServiceMap } from "../dev/service-map.ts";
import { type DevRuntime, startDev } from "../dev/start-dev.ts";
import { announceDevGateway, devGatewayTokens } from "../gateway-client.ts";
import { announceDevDeadLetters, devDeadLetterToken } from "./dlq.ts";
import { collectValues, featureState } from "./feature-flags.ts";

export interface DevCommandOptions {
  config?: string | false;
  manifests?: string;
  port?: string;
  host?: string;
  redis?: string;
  /** The prefix of every Redis key this session writes (memory service and broker journal), default `knclaw:`. */
  redisKeyPrefix?: string;
  brokerStore?: string;
  stateDir?: string;
  brokerFsync?: boolean;
  processes?: boolean;
  logLevel?: string;
  maxRequestBytes?: string;
  otlp?: string;
  /** Knative's `authentication-oidc` feature, emulated: `enabled` (the default) or `disabled`. */
  authenticationOidc?: string;
  /** `--service [NS/]NAME=URL`, repeatable: Services of the manifests that answer at a local URL. */
  service?: string[];
  /** `--run [NS/]NAME=COMMAND`, repeatable: Services of the manifests that knclaw dev starts from a local command. */
  run?: string[];
  /** Eventing's `cross-namespace-event-links` feature: `enabled` or `disabled` (default: the manifests' config-features, else disabled). */
  crossNamespaceEventLinks?: string;
  defaultAuthorizationMode?: string;
}

/** The config `knclaw dev` runs: --config, else ./knclaw.yaml, else the shipped default (so `npm start` just works). */
export function chooseConfig(option: string | undefined): string {
  if (option) return resolve(option);
  const local = resolve("knclaw.yaml");
  return existsSync(local) ? local : defaultConfigPath;
}

/**
 * Where `knclaw dev` keeps what must outlive the process: `--state-dir`, else `$KNCLAW_STATE_DIR`, else `.knclaw/` in
 * the working directory (per project, like the config it runs; already in .gitignore).
 */
const DEFAULT_STATE_DIR = ".knclaw";
const STATE_DIR_ENV = "KNCLAW_STATE_DIR";

/** The memory service's embedded store in the state directory (unused when the memory service is on Redis). */
const MEMORY_FILE = "memory.sqlite";

export function chooseStateDir(option: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  return resolve(option ?? env[STATE_DIR_ENV] ?? DEFAULT_STATE_DIR);
}

/**
 * The broker store `knclaw dev` uses: durable by default, Redis Streams when `--redis` is given or the config names a
 * Redis for the memory service, else SQLite in the state directory; `--broker-store memory` opts out.
 */
export function chooseBrokerStore(
  options: Pick<DevCommandOptions, "brokerStore" | "redis" | "brokerFsync" | "redisKeyPrefix">,
  stateDir: string,
  configRedisUrl: string | undefined,
  configKeyPrefix?: string,
): BrokerStoreChoice {
  const redisUrl = options.redis ?? configRedisUrl;
  // The journal follows the memory service's prefix: the flag's, else the config's.
  const keyPrefix = chooseRedisKeyPrefix(options.redisKeyPrefix, redisUrl) ?? configKeyPrefix;
  const kind = options.brokerStore ?? (redisUrl ? "redis" : "sqlite");
  switch (kind) {
    case "memory":
      return { kind: "memory" };
    case "sqlite":
      return {
        kind: "sqlite",
        path: resolve(stateDir, "broker.sqlite"),
        fullSync: options.brokerFsync === true,
      };
    case "redis":
      if (!redisUrl) throw new Error("--broker-store redis needs --redis URL (or a config that names a Redis)");
      // The journal's keys sit under the session's prefix too (`knclaw:broker:` by default, as before), so sessions
      // apart in the memory service are apart in the journal as well.
      return { kind: "redis", url: redisUrl, keyPrefix: `${keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX}broker:` };
    default:
      throw new Error(`invalid --broker-store ${kind}: sqlite, redis or memory`);
  }
}

const DEFAULT_REDIS_KEY_PREFIX = "knclaw:";

/**
 * `--redis-key-prefix`: checked as the memory service checks its `KNCLAW_REDIS_KEY_PREFIX` (no braces, no
 * whitespace), and only where there is a Redis to put it in. Two sessions on one Redis keep apart by it.
 */
export function chooseRedisKeyPrefix(prefix: string | undefined, redisUrl: string | undefined): string | undefined {
  if (prefix === undefined) return undefined;
  if (redisUrl === undefined) {
    throw new Error("--redis-key-prefix needs --redis URL (or a config that names a Redis)");
  }
  try {
    return memoryEnv.read({ [memoryEnv.names.keyPrefix]: prefix }, "keyPrefix");
  } catch (error) {
    throw new Error(`invalid --redis-key-prefix: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The OIDC emulation `knclaw dev` runs with, by Knative's config-features names: `authentication-oidc` enabled unless
 * `--authentication-oidc disabled`, and `default-authorization-mode` (Knative's default: allow-same-namespace).
 */
function chooseOidc(
  options: Pick<DevCommandOptions, "authenticationOidc" | "defaultAuthorizationMode">,
): DevOidcOptions | undefined {
  const enabled = options.authenticationOidc ?? "enabled";
  if (enabled !== "enabled" && enabled !== "disabled") {
    throw new Error(`invalid --authentication-oidc ${enabled}: enabled or disabled`);
  }
  const mode = options.defaultAuthorizationMode ?? "allow-same-namespace";
  if (!(DEFAULT_AUTHORIZATION_MODES as readonly string[]).includes(mode)) {
    throw new Error(`invalid --default-authorization-mode ${mode}: ${DEFAULT_AUTHORIZATION_MODES.join(", ")}`);
  }
  if (enabled === "disabled") return undefined;
  return { defaultAuthorizationMode: mode as DefaultAuthorizationMode };
}

/** A running `knclaw dev` with what it tells the operator (never a secret value) and what to clean up at the end. */
export interface DevSession {
  runtime: DevRuntime;
  /** The listing and where the API tokens of this session are (paths, not values). */
  lines: string[];
  /** Remove the session's token files. */
  cleanup(): void;
  /** The process's OpenTelemetry SDK (a no-op without an endpoint): shut down after the runtime. */
  telemetry: Telemetry;
}

/**
 * `knclaw dev` as the command runs it: render the config, make up the API tokens the environment does not give (the
 * dead-letter API's, the gateway's configured tokens: cli/commands/dlq.ts, cli/gateway-client.ts), start, and
 * publish those tokens in private session files for `knclaw dlq` / `knclaw invoke` to find. `env` receives the
 * generated tokens (the dev secret resolver reads them from there).
 */
export async function startDevSession(
  options: DevCommandOptions,
  env: Record<string, string | undefined> = { ...process.env },
): Promise<DevSession> {
  const log = pino(
    { name: "knclaw-dev", level: options.logLevel ?? "info", redact: { paths: redactPaths(), censor: "[redacted]" } },
    pino.destination(2),
  );
  const objects: KnativeObject[] = [];
  if (options.config !== false) {
    const path = chooseConfig(options.config);
    // Nothing is pulled here: a config without images runs as it is (knative/config/images.ts). Agents run on this
    // machine, so they read the skill folders in place instead of from ConfigMaps.
    objects.push(
      ...(render(withPlaceholderImages(loadConfig(path)), { skillFolders: "local" }) as unknown as KnativeObject[]),
    );
    log.info({ config: path }, "rendered config");
  } else if (!options.manifests) {
    throw new Error("--no-config needs --manifests DIR: there would be nothing to run");
  }
  const port = Number(options.port ?? env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port ${options.port}`);
  const maxBodyBytes = options.maxRequestBytes === undefined ? undefined : Number(options.maxRequestBytes);
  if (maxBodyBytes !== undefined && (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1)) {
    throw new Error(`invalid --max-request-bytes ${options.maxRequestBytes}`);
  }
  // Random per-session API tokens unless the environment names them.
  const deadLetterToken = devDeadLetterToken(env);
  const gatewayTokens = devGatewayTokens(objects, env);
  const stateDir = chooseStateDir(options.stateDir, env);
  // Private from the start: it holds conversations, run state and events.
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const configRedis = configuredRedisUrl(objects, env);
  const brokerStore = chooseBrokerStore(options, stateDir, configRedis, configuredRedisKeyPrefix(objects));
  const redisKeyPrefix = chooseRedisKeyPrefix(options.redisKeyPrefix, options.redis ?? configRedis);
  // One OpenTelemetry SDK for every function of this process, each span under its function's service name
  // (runtime/telemetry.ts); with --processes each child starts its own from the same variables.
  if (options.otlp) {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = options.otlp;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = options.otlp;
  }
  const telemetry = await startTelemetry(process.env, { perFunction: true, serviceName: "knclaw-dev" });
  const runtime = await startDev({
    objects,
    maxBodyBytes,
    manifestsDir: options.manifests,
    port,
    host: options.host,
    redisUrl: options.redis,
    ...(redisKeyPrefix === undefined ? {} : { redisKeyPrefix }),
    // Standard output is the listing (and what a script reads from it); every log line goes to standard error.
    functionLogs: "stderr",
    // The keys and the memory token secret it generates outlive a restart, so trust does too.
    secretStore: fileSecretStore(stateDir),
    // Without Redis the memory service's embedded store persists beside the broker journal.
    memoryPath: resolve(stateDir, MEMORY_FILE),
    brokerStore,
    processes: options.processes,
    oidc: chooseOidc(options),
    services: parseServiceMap(options.service ?? []),
    commands: parseServiceCommands(options.run ?? []),
    crossNamespaceEventLinks: featureState("cross-namespace-event-links", options.crossNamespaceEventLinks),
    log,
    env,
  });
  const lines = describeRuntime(runtime);
  const cleanups: Array<() => void> = [];
  const sender = await announceDevSender(runtime);
  lines.push(...sender.lines);
  cleanups.push(sender.cleanup);
  const running = (name: string) => runtime.functions.some((fn) => fn.name === name);
  if (running("deadletter")) {
    const announced = announceDevDeadLetters(runtime.url, runtime.port, deadLetterToken);
    lines.push(...announced.lines);
    cleanups.push(announced.cleanup);
  }
  if (running("gateway")) {
    const agent = objects.find(
      (o) => o.kind === "Service" && o.metadata.labels?.[LABEL_COMPONENT] === "agent" && running(o.metadata.name),
    );
    const instance = agent?.metadata.labels?.[LABEL_INSTANCE];
    const announced = announceDevGateway(runtime.url, runtime.port, gatewayTokens, instance);
    lines.push(...announced.lines);
    cleanups.push(announced.cleanup);
  }
  const cleanup = () => {
    for (const fn of cleanups) fn();
  };
  return { runtime, lines, cleanup, telemetry };
}

export function registerDevCommand(program: Command): void {
  program
    .command("dev")
    .description("run the platform on this machine: embedded Knative-faithful broker, functions, PingSources, one port")
    .option("-c, --config <file>", "platform config (default ./knclaw.yaml, else the shipped default)")
    .option("--no-config", "run only what --manifests holds")
    .option(
      "-m, --manifests <dir>",
      "extra Knative YAML as written for a cluster: Brokers, Triggers, PingSources, SinkBindings, EventPolicies and Services act; other kinds are listed as not run; objects whose references do not resolve here are listed as not Ready",
    )
    .option(
      "--service <[ns/]name=url>",
      "a Service that runs elsewhere: deliveries to its cluster URL (a Trigger's subscriber, a sink) go to this URL (repeatable)",
      collectValues,
    )
    .option(
      "--run <[ns/]name=command>",
      "start a Knative Service of the manifests from this shell command, as its container would run (on $PORT, with its env and K_SINK) (repeatable)",
      collectValues,
    )
    .option(
      "--cross-namespace-event-links <state>",
      "Knative's cross-namespace-event-links feature (a Trigger's spec.brokerRef to another namespace): enabled or disabled (default: the manifests' knative-eventing/config-features, else disabled)",
    )
    .option("-p, --port <port>", "port for everything (default $PORT or 8080; 0 picks a free one)")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--redis <url>", "memory service (and the broker's delivery journal) on this Redis")
    .option(
      "--redis-key-prefix <prefix>",
      "prefix of every Redis key of this session: the memory service's, and the journal's (<prefix>broker:); default knclaw:",
    )
    .option(
      "--broker-store <store>",
      "where accepted events wait for delivery: sqlite (in --state-dir), redis (Streams) or memory (not durable); default redis with --redis, else sqlite",
    )
    .option(
      "--state-dir <dir>",
      `state kept across restarts: the broker journal, the keys it generates and, without --redis, the memory service's store (default $${STATE_DIR_ENV}, else ./${DEFAULT_STATE_DIR})`,
    )
    .option("--broker-fsync", "sqlite broker store: fsync every commit, so even a power loss loses no accepted event")
    .option("--processes", "run each function as its own child process instead of in-process")
    .option(
      "--authentication-oidc <state>",
      "Knative's OIDC sender identity, emulated: enabled (tokens on every delivery, senders and EventPolicies checked at the broker) or disabled",
      "enabled",
    )
    .option(
      "--default-authorization-mode <mode>",
      `who may post to a broker no EventPolicy applies to: ${DEFAULT_AUTHORIZATION_MODES.join(", ")}`,
      "allow-same-namespace",
    )
    .option("--max-request-bytes <bytes>", "broker ingress request size limit (default 4 MiB, as Knative)")
    .option("--log-level <level>", "pino level for the runtime's own logs (stderr)", "info")
    .option(
      "--otlp <url>",
      "export traces, metrics and logs over OTLP/HTTP to this collector (OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    .action(async (options: DevCommandOptions) => {
      const session = await startDevSession(options, { ...process.env });
      const runtime = session.runtime;
      process.stdout.write(`${session.lines.join("\n")}\n`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`knclaw dev: ${signal}, finishing in-flight deliveries...\n`);
        session.cleanup();
        runtime
          .shutdown()
          .then(() => session.telemetry.shutdown())
          .then(
            () => process.exit(0),
            (error: unknown) => {
              process.stderr.write(
                `knclaw dev: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`,
              );
              process.exit(1);
            },
          );
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
}
