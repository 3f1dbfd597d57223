/**
 * Section `memory`: the memory service (ARCHITECTURE.md, "Memory service"), the only function holding Redis
 * credentials. Without `redis` it runs its embedded backend: fine for `knclaw dev`, but on a cluster state is lost when
 * the pod goes, so the renderer pins it to exactly one replica and `validate` warns.
 */
import { z } from "zod";
import { EgressRule, KsvcKnobs, KubernetesName, SecretRef } from "../primitives.ts";
import { InClusterRedis, REDIS_NAME } from "./redis.ts";

const Redis = z
  .strictObject({
    url: SecretRef.optional().describe(
      "`redis://` / `rediss://` URL of a Redis run elsewhere, password included, from a Secret.",
    ),
    inCluster: InClusterRedis.optional().describe(
      "Run Redis in the platform namespace instead (a StatefulSet with persistence); `url` then comes from its Secret.",
    ),
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{0,64}$/)
      .default("knclaw:")
      .describe("Key prefix (hash-tagged per instance by the service)."),
    egress: z
      .array(EgressRule)
      .default([{ namespace: "*", ports: [6379], protocol: "TCP" }])
      .describe("How the memory service reaches Redis: every namespace on 6379 unless told otherwise."),
  })
  .superRefine((redis, ctx) => {
    if ((redis.url === undefined) === (redis.inCluster === undefined)) {
      ctx.addIssue({
        code: "custom",
        input: redis,
        message: "give exactly one of url (a Redis run elsewhere) and inCluster (one the platform runs)",
        params: { rule: "redis" },
      });
    }
  })
  // An in-cluster Redis's URL is in its Secret: everything downstream reads `url` either way.
  .transform((redis) => ({
    ...redis,
    url: redis.url ?? { secret: redis.inCluster?.secret ?? REDIS_NAME, key: "url" },
  }));

const Memory = KsvcKnobs.extend({
  redis: Redis.optional().describe(
    "Redis for the memory service; without it the embedded store runs: `knclaw dev` keeps it in its state directory, a pod in its memory (state lost with the pod, one replica).",
  ),
  tokenSecret: KubernetesName.default("knclaw-memory-tokens").describe(
    "Secret with one key per memory client (`agent-<instance>`, `gateway`, `channel-<type>`, `deadletter`, `skill-<name>`): each client gets its own key as KNCLAW_MEMORY_TOKEN, the memory service gets all of them.",
  ),
});

export const memorySection = {
  memory: Memory.prefault({}),
};
