/**
 * `memory.redis.inCluster`: Redis run by the platform itself, for a cluster without a managed Redis. The renderer
 * (knative/render/redis.ts) makes it a one-replica StatefulSet with append-only-file persistence on a
 * PersistentVolumeClaim, a password from a Secret, probes, a headless Service and a NetworkPolicy that admits only
 * the memory service. `knclaw secrets generate` writes that Secret: a random `password` and the `url` the memory
 * service connects with (password included), so the two always agree.
 */
import { z } from "zod";
import { ImageRef, KubernetesName, Resources } from "../primitives.ts";

/** Name of the StatefulSet, its Service and its NetworkPolicy. */
export const REDIS_NAME = "knclaw-redis";
export const REDIS_PORT = 6379;
/** On the StatefulSet: `host:port` the memory service reaches it at, for the URL `knclaw secrets generate` writes. */
export const ANNOTATION_REDIS_ADDRESS = "knclaw.dev/redis-address";

const Storage = z
  .string()
  .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti)$/, { message: "a storage size such as 1Gi" })
  .default("1Gi");

export const InClusterRedis = z.strictObject({
  image: ImageRef.default("docker.io/library/redis:7.4-alpine").describe(
    "Redis image (official image layout: redis-server and redis-cli on PATH, uid 999); pin it by digest.",
  ),
  storage: Storage.describe("Size of the PersistentVolumeClaim holding the append-only file."),
  storageClassName: KubernetesName.optional().describe("StorageClass of the claim (the cluster's default if unset)."),
  secret: KubernetesName.default(REDIS_NAME).describe(
    "Secret holding `password` (Redis's) and `url` (the memory service's, password included); `knclaw secrets generate` writes it.",
  ),
  resources: Resources.default({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } }).describe(
    "Container resources; Redis keeps its data set in memory, so the memory limit bounds it.",
  ),
});
export type InClusterRedis = z.infer<typeof InClusterRedis>;
