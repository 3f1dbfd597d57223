import { z } from "zod";
import { MIN_SECRET_LENGTH } from "../../clients/memory/tokens.ts";
import { defineEnv, envBoolean, envInteger, secret, text } from "../../runtime/env-contract.ts";
import { platformVars } from "../../runtime/platform-env.ts";

const MIB = 1_048_576;
const DAY_MS = 86_400_000;

/** The memory service's environment: the only function holding Redis credentials. */
export const memoryEnv = defineEnv({
  ...platformVars,
  backend: text(
    "KNCLAW_MEMORY_BACKEND",
    "`redis` (needs KNCLAW_REDIS_URL) or `embedded`; unset: Redis when KNCLAW_REDIS_URL is set",
    z.enum(["redis", "embedded"], { error: "must be 'redis' or 'embedded'" }).optional(),
  ),
  tokenSecret: secret(
    "KNCLAW_MEMORY_TOKEN_SECRET",
    `the HMAC key every bearer token is derived from (at least ${MIN_SECRET_LENGTH} characters)`,
    z.string().min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`),
  ),
  redisUrl: secret(
    "KNCLAW_REDIS_URL",
    "`redis://` or `rediss://` (credentials in the URL); unset: the embedded store",
    z
      .string()
      .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
      .optional(),
  ),
  keyPrefix: text(
    "KNCLAW_REDIS_KEY_PREFIX",
    "prefix of every Redis key (no braces: the service adds the per-instance hash tags)",
    z
      .string()
      .max(100, "must be at most 100 characters")
      .regex(/^[^{}\s]*$/, "must not contain braces or whitespace")
      .default("knclaw:"),
    // An empty prefix is a prefix: knclaw.yaml may ask for none.
    { keepEmpty: true },
  ),
  /** KNCLAW_REDIS_URL names a seed node of a Redis Cluster. */
  redisCluster: text(
    "KNCLAW_MEMORY_REDIS_CLUSTER",
    "`true`: KNCLAW_REDIS_URL names a seed node of a Redis Cluster",
    envBoolean().default(false),
  ),
  operatorToken: secret(
    "KNCLAW_MEMORY_OPERATOR_TOKEN",
    `an extra operator token (at least ${MIN_SECRET_LENGTH} characters), e.g. for humans`,
    z.string().min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`).optional(),
  ),
  /** Longest a Redis command may take before the request answers 503. */
  redisTimeoutMs: text(
    "KNCLAW_MEMORY_REDIS_TIMEOUT_MS",
    "a Redis command taking longer fails the request with 503",
    envInteger(50, 60_000).default(750),
  ),
  maxBodyBytes: text("KNCLAW_MEMORY_MAX_BODY_BYTES", "larger bodies get 413", envInteger(1024, 64 * MIB).default(MIB)),
  /** Dead letters carry a whole event (data as base64): their store request has its own, larger limit. */
  deadLetterMaxBodyBytes: text(
    "KNCLAW_MEMORY_DEADLETTER_MAX_BODY_BYTES",
    "the limit of a dead-letter store (a whole event, its data in base64)",
    envInteger(1024, 64 * MIB).default(2 * MIB),
  ),
  runRetentionMs: text(
    "KNCLAW_MEMORY_RUN_RETENTION_MS",
    "how long finished runs are kept by default, in ms (7 days unless set)",
    envInteger(1, 365 * DAY_MS).default(7 * DAY_MS),
  ),
  embeddedPath: text(
    "KNCLAW_MEMORY_EMBEDDED_PATH",
    "the embedded store's SQLite file, kept across restarts (knclaw dev: `memory.sqlite` in its state directory); unset: in memory, lost with the process",
    z.string().min(1).optional(),
  ),
  /** Only the embedded store keeps runs on one machine's memory or disk, so only it needs a count cap besides the age. */
  embeddedMaxFinishedRuns: text(
    "KNCLAW_MEMORY_EMBEDDED_MAX_FINISHED_RUNS",
    "finished runs the embedded store keeps (all instances together); past it the runs that finished first go",
    envInteger(1, 10_000_000).default(2000),
  ),
  maxNotesPerOwner: text(
    "KNCLAW_MEMORY_MAX_NOTES_PER_OWNER",
    "notes per instance and per user",
    envInteger(1, 1_000_000).default(1000),
  ),
  auditMaxLength: text(
    "KNCLAW_MEMORY_AUDIT_MAX_LENGTH",
    "audit stream length per instance (approximate trim)",
    envInteger(10, 100_000_000).default(100_000),
  ),
  timerPollMs: text(
    "KNCLAW_MEMORY_TIMER_POLL_MS",
    "how often due timers are looked for, in ms: a timer fires at most this late",
    envInteger(10, 60_000).default(1000),
  ),
  maxTimersPerInstance: text(
    "KNCLAW_MEMORY_MAX_TIMERS_PER_INSTANCE",
    "timers armed per instance at once (then 409)",
    envInteger(1, 10_000_000).default(10_000),
  ),
  /** The one event the service emits, timer.fired, is signed as the `memory` producer role (eventing/trust/). */
  eventSigningKey: secret(
    "KNCLAW_EVENT_SIGNING_KEY",
    "the service's Ed25519 private key (PEM or base64): the timers it fires are signed with it as the `memory` producer role; required with K_SINK",
    z.string().min(1).optional(),
  ),
  maxPendingPairings: text(
    "KNCLAW_MEMORY_MAX_PENDING_PAIRINGS",
    "pending pairing requests per instance (then 429)",
    envInteger(1, 10_000).default(50),
  ),
});
