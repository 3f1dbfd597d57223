import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { MemoryClient } from "../../../clients/memory/client.ts";
import { MemoryKeyValue } from "../../../clients/memory/key-value.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import { type Served, serve } from "../../../runtime/serve.ts";
import { defineSkill } from "../../../skills/package/define-skill.ts";
import { defineTool } from "../../../skills/package/tool.ts";
import { generateSigningKey, serveSkill } from "../../../skills/runtime/index.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../../fakes/openai/server.ts";
import { exited, inheritedEnv, spawnKnclaw, waitForOutput } from "../../support/cli-process.ts";
import { devTrustEnv, roleKeys } from "../../support/event-keys.ts";
import type { OwnRedis } from "./redis-server.ts";

/**
 * The crash suite's platform: a real `knclaw dev` process (the CLI, as an operator runs it) on one knclaw.yaml and one
 * state directory, started, killed and started again; and, in this test process so that they outlive every kill, what
 * a cluster keeps outside the platform: the model provider (the fake OpenAI-compatible server), a counting skill
 * (an external skill served by serveSkill) and, with `redis`, the Redis the memory service and the broker journal use.
 *
 * Every run is the same two turns: the model calls `counter__count`, then answers `done <task>`. So a run that ends
 * well shows one tool execution, one message and one outcome; anything done twice shows as a count of two.
 */
const INSTANCE = "crash";
const GATEWAY_TOKEN = "crash-suite-gateway-token-0123456789abcdef";
const MEMORY_SECRET = "crash-suite-memory-token-secret-0123456789";
const keys = generateSigningKey();

export interface DevProcess {
  child: ChildProcess;
  /** The port's base URL. */
  url: string;
  /** How the process ended. */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CrashPlatformOptions {
  /** Memory service and broker journal on this Redis (`--redis`); else the embedded store and SQLite. */
  redis?: OwnRedis;
  /** `--broker-store sqlite` with `redis`: the journal in the state directory, only the memory service on Redis. */
  journalOnDisk?: boolean;
  /** `gateway.redriveAfterSeconds`: how soon the gateway looks at a run with no outcome. */
  redriveAfterSeconds?: number;
  /** `agent.toolGraceSeconds`: past a tool's timeout (an external skill's is 30 s), an unanswered call fails. */
  toolGraceSeconds?: number;
  /** A Slack channel answering on this (fake) Slack: its Web API base URL, bot token and signing secret. */
  slack?: { apiBaseUrl: string; token: string; signingSecret: string };
}

export interface RunAnswer {
  status: number;
  /** Retry-After, in seconds, when the answer has one. */
  retryAfter?: number;
  body: { runId?: string; status?: string; output?: string; reason?: string };
}

export class CrashPlatform {
  readonly dir = mkdtempSync(join(tmpdir(), "knclaw-crash-"));
  private readonly tmp = join(this.dir, "tmp");
  readonly model: FakeOpenAI;
  readonly skill: CountingSkill;
  dev: DevProcess | undefined;
  private readonly options: CrashPlatformOptions;
  /** Model requests per task, for the report. */
  readonly modelCalls = new Map<string, number>();
  /** While true the model answers 503 (a transient failure: the agent defers the step, the broker retries it). */
  modelDown = false;

  private constructor(model: FakeOpenAI, skill: CountingSkill, options: CrashPlatformOptions) {
    this.model = model;
    this.skill = skill;
    this.options = options;
  }

  static async start(options: CrashPlatformOptions = {}): Promise<CrashPlatform> {
    const model = await startFakeOpenAI({ apiKey: "not-needed" });
    const skill = await CountingSkill.start();
    const platform = new CrashPlatform(model, skill, options);
    model.setResponder((request) => platform.answer(request.body));
    writeFileSync(join(platform.dir, "knclaw.yaml"), JSON.stringify(platform.config(), null, 2));
    mkdirSync(platform.tmp);
    return platform;
  }

  /** Start `knclaw dev` on the platform's config and state; `crashPoint` arms runtime/crash-point.ts. */
  async startDev(crashPoint?: string): Promise<DevProcess> {
    const args = [
      "dev",
      ...["-c", join(this.dir, "knclaw.yaml"), "--port", "0", "--state-dir", join(this.dir, "state")],
      ...["--log-level", "warn"],
      ...(this.options.redis ? ["--redis", this.options.redis.url] : []),
      ...(this.options.journalOnDisk ? ["--broker-store", "sqlite"] : []),
    ];
    const env = inheritedEnv((name) => name.startsWith("KNCLAW_") || name === "PORT", {
      KNCLAW_GATEWAY_TOKEN_CLI: GATEWAY_TOKEN,
      KNCLAW_MEMORY_TOKENS_SECRET: MEMORY_SECRET,
      [`KNCLAW_AGENT_KEYS_${INSTANCE.toUpperCase()}`]: keys.privateKeyPem,
      KNCLAW_STATE_DIR: join(this.dir, "state"),
      // Its session token files too: a killed process cannot remove them, the platform's close does.
      TMPDIR: this.tmp,
      KNCLAW_LOG_LEVEL: "warn",
      // The counting skill signs its answers with this key; the agent trusts it.
      ...devTrustEnv({ externalSkills: ["counter"] }),
      ...(this.options.slack
        ? { SLACK_BOT: this.options.slack.token, SLACK_SIGNING: this.options.slack.signingSecret }
        : {}),
      ...(crashPoint ? { KNCLAW_CRASH_POINT: crashPoint } : {}),
    });
    const child = spawnKnclaw(args, env);
    // Read what it writes, so a full pipe never stalls it; tests wait on particular lines with waitForOutput.
    child.stdout!.resume();
    child.stderr!.resume();
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    const [, url] = await waitForOutput(child, /knclaw dev listening on (\S+)/);
    this.dev = { child, url: url!, ended };
    return this.dev;
  }

  /** kill -9 of `knclaw dev`. */
  async kill(): Promise<void> {
    const child = this.dev?.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exit = exited(child);
    child.kill("SIGKILL");
    await exit;
  }

  /** POST a run under `key` (the Idempotency-Key); with `waitSeconds`, `Prefer: wait` for its outcome. */
  async submit(key: string, waitSeconds?: number): Promise<RunAnswer> {
    const response = await fetch(`${this.dev!.url}/api/v1/instances/${INSTANCE}/runs`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${GATEWAY_TOKEN}`,
        "content-type": "application/json",
        "idempotency-key": key,
        ...(waitSeconds !== undefined ? { prefer: `wait=${waitSeconds}` } : {}),
      },
      body: JSON.stringify({ task: taskOf(key) }),
    });
    const retryAfter = Number(response.headers.get("retry-after") ?? Number.NaN);
    return {
      status: response.status,
      ...(Number.isFinite(retryAfter) ? { retryAfter } : {}),
      body: (await response.json()) as RunAnswer["body"],
    };
  }

  /**
   * The run's outcome, awaited as a client does: `Prefer: wait`, and an answer that says "not now" (409 another attempt
   * in flight, 429, 503 while a dependency recovers) asked again after its Retry-After (else a second) until `seconds`
   * have passed. `onRetry` hears each.
   */
  async outcome(key: string, seconds: number, onRetry?: (answer: RunAnswer) => void): Promise<RunAnswer> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const answer = await this.submit(key, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));
      if (![409, 429, 503].includes(answer.status) || Date.now() >= deadline) return answer;
      onRetry?.(answer);
      // The protocol's own pause: the server says when to come back.
      await new Promise((resolve) => setTimeout(resolve, (answer.retryAfter ?? 1) * 1000));
    }
  }

  /**
   * Everything the gateway logged for the run (functions/gateway/run-store.ts), read from the memory service: every
   * message the run posted to the http channel and its outcome, in the order they were stored (the run's final
   * message and its outcome travel side by side, so either may be stored first).
   */
  async log(runId: string): Promise<string[]> {
    const kv = new MemoryKeyValue(
      new MemoryClient({
        baseUrl: `${this.dev!.url}/functions/memory`,
        token: mintMemoryToken(MEMORY_SECRET, { kind: "operator" }),
      }),
      "gateway",
    );
    const types: string[] = [];
    for (let seq = 1; ; seq++) {
      const stored = await kv.get(`gw:ev:${runId}:${seq}`);
      if (stored === undefined) return types;
      types.push((JSON.parse(stored) as { type: string }).type);
    }
  }

  async close(): Promise<void> {
    await this.kill();
    await Promise.all([this.model.close(), this.skill.close()]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The model: call the counter first, then answer. */
  private answer(body: Record<string, unknown>) {
    if (this.modelDown) return { kind: "error" as const, status: 503, message: "overloaded" };
    const messages = body.messages as Array<{ role: string; content?: string | null }>;
    const task = messages.find((m) => m.role === "user" && m.content?.startsWith("job "))?.content ?? "?";
    this.modelCalls.set(task, (this.modelCalls.get(task) ?? 0) + 1);
    if (!messages.some((m) => m.role === "tool"))
      return { kind: "message" as const, toolCalls: [{ id: "count-1", name: "counter__count", arguments: "{}" }] };
    return { kind: "message" as const, text: `done ${task}` };
  }

  private config() {
    return {
      apiVersion: "knclaw.dev/v1alpha1",
      kind: "Platform",
      metadata: { name: "knclaw", namespace: "knclaw" },
      images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
      broker: {
        name: "default",
        delivery: { retry: 6, backoffPolicy: "exponential", backoffDelay: "PT0.2S", timeout: "PT30S" },
        deadLetterSink: {},
      },
      memory: {},
      gateway: {
        enabled: true,
        tokens: { cli: { secret: "knclaw-gateway", key: "cli-token" } },
        rateLimit: { requestsPerMinute: 1_000_000, burst: 100_000 },
        ...(this.options.redriveAfterSeconds !== undefined
          ? { redriveAfterSeconds: this.options.redriveAfterSeconds }
          : {}),
      },
      policies: { crash: { tools: { allow: ["counter.*"] } } },
      ...(this.options.slack
        ? {
            channels: {
              slack: {
                secrets: {
                  signingSecret: { secret: "slack", key: "signing" },
                  botToken: { secret: "slack", key: "bot" },
                },
                settings: { slackApiBaseUrl: this.options.slack.apiBaseUrl },
                defaultInstance: INSTANCE,
                access: "open",
              },
            },
          }
        : {}),
      skills: {
        counter: {
          external: {
            url: this.skill.url,
            tools: [{ name: "count", description: "Counts one call.", parameters: { type: "object", properties: {} } }],
          },
        },
      },
      instances: {
        [INSTANCE]: {
          model: `openai-compatible/${INSTANCE}`,
          provider: { baseUrl: this.model.url },
          policy: "crash",
          skills: ["counter"],
          ...(this.options.toolGraceSeconds !== undefined
            ? { agent: { toolGraceSeconds: this.options.toolGraceSeconds } }
            : {}),
        },
      },
    };
  }
}

/** The task of the run submitted under `key`: the model reads it back to tell runs apart. */
export function taskOf(key: string): string {
  return `job ${key}`;
}

/**
 * An external skill with one tool, `count`, that records every execution by run and call id, and holds calls while
 * `hold()` is on (so a test can kill `knclaw dev` with deliveries to it in flight).
 */
export class CountingSkill {
  /** Executions by `<run id>/<call id>`. */
  readonly executions = new Map<string, number>();
  /** Executions that have answered. */
  answered = 0;
  url = "";
  private served: Served | undefined;
  private holding = false;
  private held: Array<() => void> = [];
  private watchers: Array<{ count: number; resolve: () => void }> = [];
  private answerWatchers: Array<{ count: number; resolve: () => void }> = [];

  static async start(): Promise<CountingSkill> {
    const skill = new CountingSkill();
    const count = defineTool({
      name: "count",
      description: "Counts one call.",
      input: z.object({}),
      mutates: false,
      approval: false,
    });
    const definition = defineSkill({
      name: "counter",
      manifest: {},
      tools: [count],
      handlers: {
        count: async (_args, context) => {
          const key = `${context.runId}/${context.callId}`;
          skill.executions.set(key, (skill.executions.get(key) ?? 0) + 1);
          if (skill.holding) await skill.wait();
          skill.answered += 1;
          for (const watcher of skill.answerWatchers.filter((w) => skill.answered >= w.count)) {
            skill.answerWatchers.splice(skill.answerWatchers.indexOf(watcher), 1);
            watcher.resolve();
          }
          return { counted: skill.executions.get(key) };
        },
      },
    });
    const app = serveSkill(definition, {
      env: {
        KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
        KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/counter").privateKeyPem,
        NODE_ENV: "test",
      },
    });
    skill.served = await serve(app, { port: 0, host: "127.0.0.1" });
    skill.url = skill.served.url;
    return skill;
  }

  /** From now on, calls wait until `release()`. */
  hold(): void {
    this.holding = true;
  }

  /** Lets every held call go, and stops holding. */
  release(): void {
    this.holding = false;
    for (const go of this.held.splice(0)) go();
  }

  /** Lets the first `count` held calls go; the others stay held. */
  releaseSome(count: number): void {
    for (const go of this.held.splice(0, count)) go();
  }

  /** Resolves once `count` calls are held at the same time. */
  heldAtLeast(count: number): Promise<void> {
    if (this.held.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push({ count, resolve }));
  }

  /** Resolves once `count` executions have answered. */
  answeredAtLeast(count: number): Promise<void> {
    if (this.answered >= count) return Promise.resolve();
    return new Promise((resolve) => this.answerWatchers.push({ count, resolve }));
  }

  async close(): Promise<void> {
    this.release();
    await this.served?.shutdown();
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => {
      this.held.push(resolve);
      for (const watcher of this.watchers.filter((w) => this.held.length >= w.count)) {
        this.watchers.splice(this.watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    });
  }
}
