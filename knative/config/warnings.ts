/**
 * Things a valid config may still get wrong on a real cluster. `knclaw validate` prints them; they never block.
 */
import { checkImageRef } from "../validate/image.ts";
import type { ConfigIssue } from "./errors.ts";
import { listFunctions, resolveImage } from "./functions.ts";
import type { PlatformConfig } from "./schema.ts";
import { oidcIssuer } from "./sections/oidc.ts";

export function configWarnings(config: PlatformConfig): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const byImage = new Map<string, string[]>();
  for (const fn of listFunctions(config)) {
    const image = resolveImage(config, fn);
    if (image !== undefined) byImage.set(image, [...(byImage.get(image) ?? []), fn.name]);
  }
  for (const [image, users] of byImage) {
    const check = checkImageRef(image);
    if (check.ok && check.warning !== undefined) {
      warnings.push({
        path: "images",
        rule: "image-digest",
        message: `${check.warning} (used by ${users.join(", ")})`,
      });
    }
  }
  if (config.memory.redis === undefined) {
    warnings.push({
      path: "memory.redis",
      rule: "memory-backend",
      message:
        "no Redis configured: the memory service uses its embedded backend, pinned to one replica, and loses all state " +
        "when that pod restarts; set memory.redis.url for a cluster",
    });
  }
  const broker = brokerDurabilityWarning(config);
  if (broker !== undefined) warnings.push(broker);
  if (config.oidc.enabled && config.oidc.issuer === undefined) {
    warnings.push({
      path: "oidc.issuer",
      rule: "oidc-issuer",
      message: `not set: the functions accept tokens of ${oidcIssuer(undefined, config.network.clusterDomain)} (kubeadm's default issuer); if \`kubectl get --raw /.well-known/openid-configuration\` names another, every delivery is refused (401)`,
    });
  }
  if (config.gateway.enabled && Object.keys(config.gateway.tokens).length === 0) {
    warnings.push({
      path: "gateway.tokens",
      rule: "gateway-auth",
      message: "no API tokens configured (gateway.tokens): API clients have no bearer token to present",
    });
  }
  for (const fn of listFunctions(config)) {
    for (const rule of fn.egress) {
      if (rule.host !== undefined && config.network.egressPolicies) {
        warnings.push({
          path: `egress (${fn.name})`,
          rule: "egress-host",
          message: `${rule.host}: a NetworkPolicy cannot match host names, so ${fn.name} may reach any public address on ports ${rule.ports.join(", ")}`,
        });
      }
    }
  }
  return warnings;
}

/**
 * A config that keeps its state in Redis is the production shape (knative/defaults/production.yaml): its runs are
 * meant to outlive any pod. Its broker should then be durable too: an MTChannelBasedBroker on InMemoryChannel holds
 * accepted events in the dispatcher's memory, so a restarted dispatcher pod loses every event it answered 202 for
 * and the runs waiting on them stall. Without Redis the memory-backend warning already says the config is not for
 * production, so nothing more is said here.
 */
function brokerDurabilityWarning(config: PlatformConfig): ConfigIssue | undefined {
  const broker = config.broker;
  if (config.memory.redis === undefined || broker.class !== "MTChannelBasedBroker") return undefined;
  const advice = "use class Kafka (Knative's Kafka broker) or channel KafkaChannel for a production profile";
  if (broker.channel === "InMemoryChannel") {
    return {
      path: "broker.channel",
      rule: "broker-durability",
      message:
        "InMemoryChannel is not durable: events the broker accepted are lost when its dispatcher pod restarts, " +
        `while this config keeps its state in Redis; ${advice}`,
    };
  }
  // Unset channel and no ConfigMap of the user's own: the cluster default, InMemoryChannel on a stock install.
  if (broker.channel === undefined && broker.config === undefined) {
    return {
      path: "broker.channel",
      rule: "broker-durability",
      message:
        "no channel named: the broker runs on the cluster's default channel (config-br-default-channel), which is " +
        `the non-durable InMemoryChannel on a stock Knative install; ${advice}`,
    };
  }
  return undefined;
}
