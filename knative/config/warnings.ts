/**
 * Things a valid config may still get wrong on a real cluster. `knclaw validate` prints them; they never block.
 */
import { checkImageRef } from "../validate/image.ts";
import type { ConfigIssue } from "./errors.ts";
import { listFunctions, resolveImage } from "./functions.ts";
import type { PlatformConfig } from "./schema.ts";

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
