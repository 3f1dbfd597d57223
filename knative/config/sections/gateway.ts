/**
 * Section `gateway`: the HTTP invocation API (runs, OpenAI-compatible chat) and operator console. It is the
 * adapter of the `http` channel: agent answers and approval requests for gateway callers come back to it.
 */
import { z } from "zod";
import { EgressRule, KsvcKnobs, SecretRef } from "../primitives.ts";

export const Gateway = KsvcKnobs.extend({
  enabled: z.boolean().default(true),
  /** Reachable from outside the cluster (false renders it cluster-local). */
  public: z.boolean().default(true),
  /** Bearer tokens accepted by the API, by name (the name shows up in audit records, the token never does). */
  tokens: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/), SecretRef).default({}),
  /** Per-token request limit (token bucket per replica): sustained rate and burst. */
  rateLimit: z
    .strictObject({
      requestsPerMinute: z.number().int().min(1).max(1_000_000).default(120),
      burst: z.number().int().min(1).max(1_000_000).default(30),
    })
    .prefault({}),
  /** Browser origins allowed to call the API (CORS); empty keeps CORS closed. */
  corsOrigins: z.array(z.url().max(512)).max(64).default([]),
  /** Longest a caller may wait for a run inline (`Prefer: wait`, chat completions), in seconds. */
  maxWaitSeconds: z.number().int().min(1).max(3600).default(120),
  egress: z.array(EgressRule).default([]),
});
export type GatewayConfig = z.infer<typeof Gateway>;

export const gatewaySection = {
  gateway: Gateway.prefault({}),
};
