import { z } from "zod";
import { TaskContract } from "../../eventing/catalog/contract.ts";
import { InstanceName } from "../../eventing/catalog/shared.ts";
import { eventKeysVar, eventSigningKeyVar } from "../../eventing/trust/env.ts";
import { defineEnv, envInteger, json, secret, secretFamily, text } from "../../runtime/env-contract.ts";
import { memoryClientVars, platformVars } from "../../runtime/platform-env.ts";

/** A gateway token's name (the keys of `gateway.tokens`): audit records show it, and it names the token's variable. */
export const GatewayTokenName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/);

const RequestsPerMinute = z.number().int().min(1).max(1_000_000);
const Burst = z.number().int().min(1).max(1_000_000);

/**
 * Per-token request limit (a token bucket per token and replica): `gateway.rateLimit` in knclaw.yaml, and its env.
 * One bucket serves every instance a token reaches, so a client driving many agents with one token may need more
 * than the default: `tokens.<name>` raises (or lowers) it for that token alone.
 */
export const GatewayRateLimit = z.strictObject({
  requestsPerMinute: RequestsPerMinute.default(120).describe("Sustained rate per token."),
  burst: Burst.default(30).describe("Requests a token may make at once."),
  tokens: z
    .record(
      GatewayTokenName,
      z.strictObject({
        requestsPerMinute: RequestsPerMinute.optional().describe(
          "This token's sustained rate (default: the one above).",
        ),
        burst: Burst.optional().describe("This token's burst (default: the one above)."),
      }),
    )
    .optional()
    .describe("Limits of single tokens, by name in `gateway.tokens`: a client driving many agents with one token."),
});
export type GatewayRateLimit = z.infer<typeof GatewayRateLimit>;

/** Bounds of `gateway.maxWaitSeconds`: the longest a caller may wait for a run inline. */
export const MAX_WAIT_SECONDS = { min: 1, max: 3600, default: 120 } as const;
/** How long an accepted run may go without an outcome before the gateway looks whether it is stranded. */
export const REDRIVE_AFTER_SECONDS = { min: 1, max: 3600, default: 60 } as const;

/** What the operator console shows of an instance: its model, skills, channels and the budgets its policy sets. */
const InstanceDetails = z.strictObject({
  model: z.string(),
  policy: z.string(),
  skills: z.array(z.string()),
  channels: z.array(z.string()),
  budgets: TaskContract.shape.budgets,
});

/** Shortest gateway token accepted. */
const MIN_GATEWAY_TOKEN_LENGTH = 16;

/** The gateway's environment (the HTTP invocation API and the `http` channel). */
export const gatewayEnv = defineEnv({
  ...platformVars,
  ...memoryClientVars,
  ...eventKeysVar,
  ...eventSigningKeyVar,
  instances: json(
    "KNCLAW_INSTANCES",
    "the instances runs may be requested for",
    z.array(InstanceName, { error: "must be a JSON array of instance names" }).default([]),
  ),
  tokenNames: text(
    "KNCLAW_GATEWAY_TOKENS",
    "the names of the accepted API tokens, comma separated (each token's value in its own variable, below)",
    z
      .string()
      .transform((names) =>
        names
          .split(",")
          .map((name) => name.trim())
          .filter(Boolean),
      )
      .default([]),
  ),
  rateLimit: json(
    "KNCLAW_GATEWAY_RATE_LIMIT",
    "`{requestsPerMinute, burst}` per token, and `tokens: {<name>: {requestsPerMinute?, burst?}}`: single tokens' own",
    GatewayRateLimit.prefault({}),
  ),
  maxWaitSeconds: text(
    "KNCLAW_GATEWAY_MAX_WAIT_SECONDS",
    "the longest `Prefer: wait` / chat completion wait, in seconds",
    envInteger(MAX_WAIT_SECONDS.min, MAX_WAIT_SECONDS.max).default(MAX_WAIT_SECONDS.default),
  ),
  redriveAfterSeconds: text(
    "KNCLAW_GATEWAY_REDRIVE_AFTER_SECONDS",
    "how long an accepted run may go without an outcome before the gateway looks at it and, if it is stranded, sends its run.requested again (then twice as long each time, up to 15 minutes)",
    envInteger(REDRIVE_AFTER_SECONDS.min, REDRIVE_AFTER_SECONDS.max).default(REDRIVE_AFTER_SECONDS.default),
  ),
  corsOrigins: json(
    "KNCLAW_GATEWAY_CORS_ORIGINS",
    "browser origins allowed to call the API; none: CORS stays closed",
    z.array(z.url(), { error: "must be a JSON array of origins" }).default([]),
  ),
  token: secretFamily(
    "KNCLAW_GATEWAY_TOKEN_",
    "<NAME>",
    "the value of the token named in KNCLAW_GATEWAY_TOKENS (name in upper snake case, `-` as `_`), from a Secret",
    z.string().min(MIN_GATEWAY_TOKEN_LENGTH, `tokens must be at least ${MIN_GATEWAY_TOKEN_LENGTH} characters`),
  ),
  deadletterUrl: text(
    "KNCLAW_DEADLETTER_URL",
    "the dead-letter sink's URL, rendered when the platform has one",
    z.string().optional(),
  ),
  deadletterToken: secret(
    "KNCLAW_DEADLETTER_TOKEN",
    "the dead-letter sink's operator API token: the console lists, replays and discards dead letters with it",
    z.string().optional(),
  ),
  instanceDetails: json(
    "KNCLAW_INSTANCE_DETAILS",
    "`{instance: {model, policy, skills, channels, budgets}}` the operator console shows",
    z.record(z.string(), InstanceDetails).default({}),
  ),
});

/** How a token's name appears in its variable: `ci-bot` -> `CI_BOT`. */
export function tokenSuffix(name: string): string {
  return name.replace(/-/g, "_").toUpperCase();
}

/** The variable holding the value of the gateway token named `name` (`ci-bot` -> `KNCLAW_GATEWAY_TOKEN_CI_BOT`). */
export function tokenVariable(name: string): string {
  return gatewayEnv.familyName("token", tokenSuffix(name));
}
