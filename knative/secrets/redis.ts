/**
 * The Secret of the in-cluster Redis (`memory.redis.inCluster`): its `password`, random like any token knclaw makes,
 * and the memory service's `url`, which must carry that same password, so it is derived from it rather than
 * generated on its own. Found from the rendered StatefulSet (its REDIS_PASSWORD reference and address annotation),
 * like every other generated value is found from what the manifests reference.
 */
import { LABEL_COMPONENT } from "../../runtime/names.ts";
import { ANNOTATION_REDIS_ADDRESS } from "../config/sections/redis.ts";
import type { RenderedObject } from "../render/types.ts";
import { containerEnv, type PlatformSecretRef, refId, type SecretPlan } from "./plan.ts";

export interface InClusterRedisSecret {
  password: PlatformSecretRef;
  url: PlatformSecretRef;
  /** `host:port` of the Redis Service. */
  address: string;
}

/**
 * Adds the in-cluster Redis's two keys to the plan's generated values (the URL leaves the outside credentials it was
 * counted among, since knclaw can now make it); undefined when the render has no in-cluster Redis.
 */
export function planInClusterRedis(
  objects: readonly RenderedObject[],
  plan: SecretPlan,
): InClusterRedisSecret | undefined {
  const statefulSet = objects.find((o) => o.kind === "StatefulSet" && o.metadata.labels?.[LABEL_COMPONENT] === "redis");
  if (statefulSet === undefined) return undefined;
  const namespace = statefulSet.metadata.namespace ?? "default";
  const address = statefulSet.metadata.annotations?.[ANNOTATION_REDIS_ADDRESS];
  const passwordEnv = containerEnv(statefulSet).find((e) => e.name === "REDIS_PASSWORD")?.ref;
  if (address === undefined || passwordEnv === undefined) return undefined;
  const password: PlatformSecretRef = {
    namespace,
    ...passwordEnv,
    kind: "redis-password",
    consumers: [`${statefulSet.metadata.name} (REDIS_PASSWORD)`],
  };
  const urlId = refId({ namespace, secret: passwordEnv.secret, key: "url" });
  const outside = plan.external.find((ref) => refId(ref) === urlId);
  const url: PlatformSecretRef = {
    namespace,
    secret: passwordEnv.secret,
    key: "url",
    kind: "redis-url",
    consumers: outside?.consumers ?? [],
    mintedFrom: { ...passwordEnv },
  };
  plan.external = plan.external.filter((ref) => refId(ref) !== urlId);
  plan.platform = [...plan.platform, password, url].sort((a, b) => (refId(a) < refId(b) ? -1 : 1));
  return { password, url, address };
}

/** The memory service's Redis URL for that password (percent-encoded, should a hand-set one need it). */
export function inClusterRedisUrl(password: string, address: string): string {
  return `redis://:${encodeURIComponent(password)}@${address}`;
}
