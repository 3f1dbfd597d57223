import { z } from "zod";
import { DeadLetterQueueName } from "../../clients/memory/contract/dead-letters.ts";
import { defineEnv, envInteger, secret, text } from "../../runtime/env-contract.ts";
import { memoryClientVars, platformVars } from "../../runtime/platform-env.ts";

const MIB = 1_048_576;
const DAY_MS = 86_400_000;
/** Shortest operator token accepted: it guards replay and delete of every failed event. */
const MIN_TOKEN_LENGTH = 16;

/** The dead-letter sink's environment. */
export const deadletterEnv = defineEnv({
  ...platformVars,
  ...memoryClientVars,
  apiToken: secret(
    "KNCLAW_DEADLETTER_TOKEN",
    `the operator API's bearer token (at least ${MIN_TOKEN_LENGTH} characters); without it the API answers 403`,
    z.string().min(MIN_TOKEN_LENGTH, `must be at least ${MIN_TOKEN_LENGTH} characters`).optional(),
  ),
  maxEntries: text(
    "KNCLAW_DEADLETTER_MAX_ENTRIES",
    "the oldest entries beyond this many are dropped (`retention.maxEntries`)",
    envInteger(1, 1_000_000).default(10_000),
  ),
  maxAgeMs: text(
    "KNCLAW_DEADLETTER_MAX_AGE_MS",
    "how long an entry is kept after its latest arrival, in ms (`retention.maxAge`; 7 days unless set)",
    envInteger(60_000, 366 * DAY_MS).default(7 * DAY_MS),
  ),
  maxBodyBytes: text(
    "KNCLAW_DEADLETTER_MAX_BODY_BYTES",
    "largest dead letter accepted (larger: 413); above 1 MiB the memory service's KNCLAW_MEMORY_DEADLETTER_MAX_BODY_BYTES must grow too",
    envInteger(1024, 64 * MIB).default(MIB),
  ),
  queue: text(
    "KNCLAW_DEADLETTER_QUEUE",
    "the memory service's dead-letter queue",
    DeadLetterQueueName.default("default"),
  ),
});
