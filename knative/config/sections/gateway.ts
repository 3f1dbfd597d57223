/**
 * Section `gateway`: the HTTP invocation API (runs, OpenAI-compatible chat) and operator console. It is the
 * adapter of the `http` channel: agent answers and approval requests for gateway callers come back to it.
 */
import { z } from "zod";
import { GatewayRateLimit, GatewayTokenName, MAX_WAIT_SECONDS } from "../../../functions/gateway/env.ts";
import { EgressRule, KsvcKnobs, SecretRef } from "../primitives.ts";

const Gateway = KsvcKnobs.extend({
  enabled: z.boolean().default(true).describe("Render and run the gateway."),
  public: z.boolean().default(true).describe("Reachable from outside the cluster (false renders it cluster-local)."),
  tokens: z
    .record(GatewayTokenName, SecretRef)
    .default({})
    .describe("Bearer tokens accepted by the API, by name (the name shows up in audit records, the token never does)."),
  rateLimit: GatewayRateLimit.prefault({}).describe(
    "Per-token request limit (token bucket per replica); past it the API answers 429 with Retry-After.",
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
  egress: z.array(EgressRule).default([]).describe("Extra egress of the gateway."),
});

export const gatewaySection = {
  gateway: Gateway.prefault({}),
};
