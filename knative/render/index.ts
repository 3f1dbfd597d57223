/**
 * config -> Knative + Kubernetes objects. Pure and deterministic: the same config renders the same objects in the
 * same order (by kind in apply order, then namespace and name), so rendered YAML diffs cleanly and `knclaw dev`
 * sees exactly what a cluster would get.
 */
import type { PlatformConfig } from "../config/schema.ts";
import { renderBroker, renderBrokerConfig } from "./broker.ts";
import { createContext, type RenderOptions } from "./context.ts";
import { renderEventPolicies } from "./event-policies.ts";
import { renderNamespace } from "./namespace.ts";
import { renderDefaultDeny, renderNetworkPolicy } from "./network-policies.ts";
import { renderPingSources } from "./ping-sources.ts";
import { renderServiceAccount, renderSkillRbac } from "./rbac.ts";
import { renderRedis } from "./redis.ts";
import { renderService } from "./services.ts";
import { renderSinkBinding } from "./sink-bindings.ts";
import { renderSkillFolderConfigMaps } from "./skill-folders.ts";
import { renderSkillIdentities } from "./skills.ts";
import { renderTriggers } from "./triggers.ts";
import type { RenderedObject } from "./types.ts";

/** Apply order: what others refer to (or live in) first. */
const KIND_ORDER = [
  "Namespace",
  "ConfigMap",
  "ServiceAccount",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
  "NetworkPolicy",
  "StatefulSet",
  // Before the Broker: with OIDC on, a Broker no policy applies to yet takes events from any sender of its namespace.
  "EventPolicy",
  "Broker",
  "Service",
  "SinkBinding",
  "Trigger",
  "PingSource",
] as const;

export function render(config: PlatformConfig, options: RenderOptions = {}): RenderedObject[] {
  const ctx = createContext(config, options);
  const objects: RenderedObject[] = [
    ...renderNamespace(ctx),
    ...renderDefaultDeny(ctx),
    ...renderBrokerConfig(ctx),
    ...renderSkillFolderConfigMaps(ctx),
    renderBroker(ctx),
    ...renderRedis(ctx),
  ];
  for (const fn of ctx.functions) {
    objects.push(renderServiceAccount(ctx, fn), ...renderSkillRbac(ctx, fn), ...renderSkillIdentities(ctx, fn));
    if (config.network.egressPolicies) objects.push(renderNetworkPolicy(ctx, fn));
    objects.push(renderService(ctx, fn));
    if (fn.producer) objects.push(renderSinkBinding(ctx, fn));
  }
  const sources = [...renderTriggers(ctx), ...renderPingSources(ctx)];
  objects.push(...sources, ...renderEventPolicies(ctx, sources));
  return sortObjects(objects);
}

function sortObjects(objects: RenderedObject[]): RenderedObject[] {
  const rank = (kind: string) => {
    const index = (KIND_ORDER as readonly string[]).indexOf(kind);
    return index < 0 ? KIND_ORDER.length : index;
  };
  const key = (o: RenderedObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  return [...objects].sort((a, b) => rank(a.kind) - rank(b.kind) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export * from "../../runtime/names.ts";
export type { RenderOptions } from "./context.ts";
export type { RenderedObject } from "./types.ts";
export { manifestFiles, toYaml, writeManifests } from "./yaml.ts";
