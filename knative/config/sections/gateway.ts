/**
 * Section `gateway`: the HTTP invocation API (runs, OpenAI-compatible chat) and operator console. It is the
 * adapter of the `http` channel: agent answers and approval requests for gateway callers come back to it.
 */
import { z } from "zod";
import {
  GatewayRateLimit,
  GatewayTokenName,
  MAX_WAIT_SECONDS,
  REDRIVE_AFTER_SECONDS,
} from "../../../functions/gateway/env.ts";
import { EgressRule, KsvcKnobs, SecretRef } from "../primitives.ts";

const Gateway = KsvcKnobs.extend({
  enabled: z.boolean().default(true).describe("Render and run the gateway."),
  public: z.boolean().default(true).describe("Reachable from outside the cluster (false renders it cluster-local)."),
  tokens: z
    .record(GatewayTokenName, SecretRef)
    .default({})
    .describe("Bearer tokens accepted by the API, by name (the name shows up in audit records, the token never does)."),
  rateLimit: GatewayRateLimit.prefault({}).describe(
    "Per-token request limit (a token bucket per token and replica, shared by every instance and API the token reaches); past it the API answers 429 with Retry-After. A client driving many agents with one token may need `tokens.<name>`.",
  ),
  corsOrigins: z
    .array(z.url().max(512))
    .max(64)
    .default([])
    .describe("Browser origins allowed to call the API (CORS); empty keeps CORS closed."),
  maxWaitSeconds: z
    .number()
    .int()
    .min(MAX_WAIT_SECONDS.min)
    .max(MAX_WAIT_SECONDS.max)
    .default(MAX_WAIT_SECONDS.default)
    .describe("Longest a caller may wait for a run inline (`Prefer: wait`, chat completions), in seconds."),
  redriveAfterSeconds: z
    .number()
    .int()
    .min(REDRIVE_AFTER_SECONDS.min)
    .max(REDRIVE_AFTER_SECONDS.max)
    .default(REDRIVE_AFTER_SECONDS.default)
    .describe(
      "How long an accepted run may go without an outcome before the gateway looks at it: a run the agent never got, or whose outcome never arrived, has its request sent again (then twice as long each time, up to 15 minutes); a chat message whose run has not ended is sent again the same way.",
    ),
  egress: z.array(EgressRule).default([]).describe("Extra egress of the gateway."),
}).superRefine((gateway, ctx) => {
  // A limit for a token nobody can present would be a typo nobody notices.
  for (const name of Object.keys(gateway.rateLimit.tokens ?? {})) {
    if (gateway.tokens[name] === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["rateLimit", "tokens", name],
        message: `no token named ${JSON.stringify(name)} in gateway.tokens`,
        params: { rule: "reference" },
      });
    }
  }
});

export const gatewaySection = {
  gateway: Gateway.prefault({}),
};
