/**
 * The in-cluster Redis of `memory.redis.inCluster` (knative/config/sections/redis.ts): a one-replica StatefulSet
 * persisting every write to an append-only file on its PersistentVolumeClaim, behind a headless Service, reachable
 * only from the memory service's pods.
 *
 * The password never appears in the pod spec or in a process's arguments: the container writes it from the Secret
 * into a config file on a private in-memory volume and execs redis-server on that file (so redis-server is PID 1 and
 * gets SIGTERM, and shuts down cleanly). redis-cli reads it from REDISCLI_AUTH for the probes. The container runs as
 * the image's redis user with a read-only root filesystem, like every knclaw container.
 */
import { KNATIVE_SERVICE_POD_LABEL, LABEL_COMPONENT } from "../../runtime/names.ts";
import { redisPodLabels } from "../config/functions.ts";
import { ANNOTATION_REDIS_ADDRESS, type InClusterRedis, REDIS_NAME, REDIS_PORT } from "../config/sections/redis.ts";
import { baseLabels, metadata, type RenderContext } from "./context.ts";
import { RESTRICTED_SECURITY_CONTEXT } from "./services.ts";
import type { RenderedObject } from "./types.ts";

/** uid and gid of the `redis` user in the official images. */
const REDIS_UID = 999;

const START = [
  "umask 077",
  'printf "requirepass %s\\n" "$REDIS_PASSWORD" > /tmp/redis.conf',
  "exec redis-server /tmp/redis.conf --dir /data --appendonly yes --appendfsync everysec",
].join(" && ");

export function renderRedis(ctx: RenderContext): RenderedObject[] {
  const redis = ctx.config.memory.redis?.inCluster;
  if (redis === undefined) return [];
  const labels = { ...baseLabels(ctx, REDIS_NAME), [LABEL_COMPONENT]: "redis" };
  const selector = redisPodLabels(ctx.config);
  return [service(ctx, labels, selector), statefulSet(ctx, redis, labels, selector), policy(ctx, labels, selector)];
}

function service(ctx: RenderContext, labels: Record<string, string>, selector: Record<string, string>): RenderedObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(ctx, REDIS_NAME, labels),
    spec: {
      // Headless: the StatefulSet's one pod answers under the Service's name; no virtual IP in between.
      clusterIP: "None",
      selector: { ...selector },
      ports: [{ name: "redis", port: REDIS_PORT, targetPort: REDIS_PORT, protocol: "TCP" }],
    },
  };
}

function statefulSet(
  ctx: RenderContext,
  redis: InClusterRedis,
  labels: Record<string, string>,
  selector: Record<string, string>,
): RenderedObject {
  const password = { secretKeyRef: { name: redis.secret, key: "password" } };
  const ping = ["sh", "-c", "redis-cli -p 6379 ping | grep -q PONG"];
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: metadata(ctx, REDIS_NAME, labels, {
      [ANNOTATION_REDIS_ADDRESS]: `${REDIS_NAME}.${ctx.namespace}.svc.${ctx.config.network.clusterDomain}:${REDIS_PORT}`,
    }),
    spec: {
      serviceName: REDIS_NAME,
      replicas: 1,
      selector: { matchLabels: { ...selector } },
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsUser: REDIS_UID,
            runAsGroup: REDIS_UID,
            fsGroup: REDIS_UID,
            runAsNonRoot: true,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "redis",
              image: redis.image,
              command: ["sh", "-c", START],
              env: [
                { name: "REDIS_PASSWORD", valueFrom: password },
                { name: "REDISCLI_AUTH", valueFrom: password },
              ],
              ports: [{ name: "redis", containerPort: REDIS_PORT, protocol: "TCP" }],
              readinessProbe: { exec: { command: ping }, periodSeconds: 5, timeoutSeconds: 2 },
              livenessProbe: {
                tcpSocket: { port: REDIS_PORT },
                initialDelaySeconds: 15,
                periodSeconds: 10,
                timeoutSeconds: 2,
              },
              resources: structuredClone(redis.resources),
              securityContext: {
                readOnlyRootFilesystem: RESTRICTED_SECURITY_CONTEXT.readOnlyRootFilesystem,
                allowPrivilegeEscalation: RESTRICTED_SECURITY_CONTEXT.allowPrivilegeEscalation,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [
                { name: "data", mountPath: "/data" },
                { name: "config", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [{ name: "config", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } }],
        },
      },
      // The claim template is an atomic list to the API server: it is written here exactly as the server stores it
      // (its defaults included), or every apply would replace it and store the StatefulSet again.
      volumeClaimTemplates: [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: "data", creationTimestamp: null },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(redis.storageClassName !== undefined ? { storageClassName: redis.storageClassName } : {}),
            resources: { requests: { storage: redis.storage } },
            volumeMode: "Filesystem",
          },
          status: { phase: "Pending" },
        },
      ],
    },
  };
}

/** Only the memory service's pods may connect, only on the Redis port; Redis itself connects nowhere. */
function policy(ctx: RenderContext, labels: Record<string, string>, selector: Record<string, string>): RenderedObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: metadata(ctx, REDIS_NAME, labels),
    spec: {
      podSelector: { matchLabels: { ...selector } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { [KNATIVE_SERVICE_POD_LABEL]: "memory" } } }],
          ports: [{ port: REDIS_PORT, protocol: "TCP" }],
        },
      ],
    },
  };
}
