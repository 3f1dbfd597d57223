/**
 * What every render module needs: the config, its function inventory, the namespace, and how to name and label
 * things. Built once per render; pure data.
 */

import {
  LABEL_CHANNEL,
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MEMORY_SCOPE,
  LABEL_SKILL,
} from "../../runtime/names.ts";
import { type FunctionSpec, listFunctions } from "../config/functions.ts";
import type { PlatformConfig } from "../config/schema.ts";
import type { ObjectReference, RenderedObject } from "./types.ts";

export interface RenderContext {
  config: PlatformConfig;
  namespace: string;
  functions: FunctionSpec[];
  brokerName: string;
  /** How agents get their skill folders (skill-folders.ts): ConfigMaps for a cluster, the paths for `knclaw dev`. */
  skillFolders: "configmap" | "local";
}

export interface RenderOptions {
  /** `local`: agents read config `skillFolders` where they are (`knclaw dev`); default `configmap` (a cluster). */
  skillFolders?: "configmap" | "local";
}

export function createContext(config: PlatformConfig, options: RenderOptions = {}): RenderContext {
  return {
    config,
    namespace: config.metadata.namespace,
    functions: listFunctions(config),
    brokerName: config.broker.name,
    skillFolders: options.skillFolders ?? "configmap",
  };
}

/** Labels every rendered object carries. */
export function baseLabels(ctx: RenderContext, name: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": name,
    "app.kubernetes.io/instance": ctx.config.metadata.name,
    "app.kubernetes.io/part-of": "knclaw",
    "app.kubernetes.io/managed-by": "knclaw",
  };
}

/** Labels of a function's objects: base labels plus component and instance/channel/skill. */
export function functionLabels(ctx: RenderContext, fn: FunctionSpec): Record<string, string> {
  const labels: Record<string, string> = { ...baseLabels(ctx, fn.name), [LABEL_COMPONENT]: fn.component };
  if (fn.instance !== undefined) labels[LABEL_INSTANCE] = fn.instance;
  if (fn.channel !== undefined) labels[LABEL_CHANNEL] = fn.channel;
  if (fn.skill !== undefined) labels[LABEL_SKILL] = fn.skill;
  if (fn.skillMemoryScope !== undefined) labels[LABEL_MEMORY_SCOPE] = fn.skillMemoryScope;
  return labels;
}

export function metadata(
  ctx: RenderContext,
  name: string,
  labels: Record<string, string>,
  annotations?: Record<string, string>,
): RenderedObject["metadata"] {
  return {
    name,
    namespace: ctx.namespace,
    labels,
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

/** Cluster-local URL of a ksvc in the platform namespace. */
export function serviceUrl(ctx: RenderContext, name: string): string {
  return `http://${name}.${ctx.namespace}.svc.${ctx.config.network.clusterDomain}`;
}

export function ksvcRef(name: string): ObjectReference {
  return { apiVersion: "serving.knative.dev/v1", kind: "Service", name };
}

export function brokerRef(ctx: RenderContext): ObjectReference {
  return { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: ctx.brokerName };
}

export function findFunction(ctx: RenderContext, name: string): FunctionSpec | undefined {
  return ctx.functions.find((fn) => fn.name === name);
}
