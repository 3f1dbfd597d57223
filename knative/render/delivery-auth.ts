/**
 * Knative Eventing's delivery authentication, as rendered with `oidc.enabled` (knative/config/sections/oidc.ts; off by
 * default since the feature is alpha in Knative). With `authentication-oidc` on, Knative's broker presents, with every
 * delivery, a token issued to the delivering Trigger's ServiceAccount for the subscriber's audience, and its ingress
 * takes an event only with a token for the Broker's audience from a sender some EventPolicy allows
 * (event-policies.ts). This module gives each function its part of that:
 *
 * - a function that takes deliveries checks them against its own audience, Knative's format for its ksvc
 *   (`serving.knative.dev/service/<namespace>/<name>`, pkg/auth/audience.go). A ksvc announces no audience in its
 *   status, so the Triggers and the dead-letter sink that deliver to it carry it as `audience` (knative.dev/pkg
 *   duck/v1 Destination: "This need only be set if the target is not an Addressable and thus the Audience can't be
 *   received from the target itself"), and the broker resolves the subscriber's audience from there
 *   (knative.dev/pkg resolver.AddressableFromDestinationV1).
 * - it takes a token only from the identities of the Triggers that deliver to it (their subscriber, or every Trigger
 *   for the dead-letter sink, which the broker reaches as the failing Trigger), as Knative's broker-filter checks its
 *   sender: the audience alone is not enough, since any workload can ask the API server for a token with any audience.
 * - it reads the issuer's keys: by default from the API server in the cluster, with a ServiceAccount token of its own
 *   and the cluster's CA (the `kube-root-ca.crt` ConfigMap every namespace has), as Knative's verifier does with its
 *   in-cluster config (pkg/auth/verifier.go, getHTTPClientForKubeAPIServer), which its egress policy allows.
 * - a function that sends gets a projected ServiceAccount token for the Broker's audience, refreshed by the kubelet,
 *   so the Broker sees it as `system:serviceaccount:<namespace>:<function>`: its own ServiceAccount, which its
 *   EventPolicy names. Knative Serving accepts projected `serviceAccountToken` sources (only `audience`,
 *   `expirationSeconds` and `path`) with no feature flag (knative/serving pkg/apis/serving/k8s_validation.go,
 *   validateProjectedVolumeSource; fieldmask.go, ServiceAccountTokenProjectionMask).
 */
import type { EnvVar } from "../../runtime/env-contract.ts";
import { knativeAudience, knativeOidcServiceAccount, serviceAccountSubject } from "../../runtime/knative-oidc.ts";
import { platformEnv } from "../../runtime/platform-env.ts";
import type { FunctionSpec } from "../config/functions.ts";
import { RECEIVE_ONLY_CHANNELS } from "../config/sections/channels.ts";
import { oidcIssuer } from "../config/sections/oidc.ts";
import { deadLetterSink } from "./broker.ts";
import { findFunction, type RenderContext } from "./context.ts";
import { renderTriggers } from "./triggers.ts";
import type { Destination, RenderedObject } from "./types.ts";

/** Where the tokens and the CA land in a function's container. */
const OIDC_DIR = "/var/run/secrets/knclaw/oidc";
const OIDC_VOLUME = "knclaw-oidc";
const BROKER_TOKEN = "broker-token";
const API_TOKEN = "api-token";
const CLUSTER_CA = "ca.crt";
/** Published by Kubernetes in every namespace (the RootCAConfigMap controller). */
const ROOT_CA_CONFIG_MAP = "kube-root-ca.crt";

/** The API server as pods address it: its JWKS is fetched with the pod's own credentials. */
const API_SERVER_HOST = /^kubernetes\.default\.svc(\.[a-z0-9.-]+)?$/;

export function oidcEnabled(ctx: RenderContext): boolean {
  return ctx.config.oidc.enabled;
}

/** The Broker's audience, what its ingress demands of every sender's token. */
function brokerAudience(ctx: RenderContext): string {
  return knativeAudience({
    group: "eventing.knative.dev",
    kind: "Broker",
    namespace: ctx.namespace,
    name: ctx.brokerName,
  });
}

/** The audience a function's deliveries carry: Knative's format for its ksvc. */
function serviceAudience(ctx: RenderContext, name: string): string {
  return knativeAudience({ group: "serving.knative.dev", kind: "Service", namespace: ctx.namespace, name });
}

/**
 * Every function but the memory service and a receive-only channel's adapter (the signed webhook) is a Trigger's
 * subscriber (the deadletter function: the dead-letter sink).
 */
function takesDeliveries(fn: FunctionSpec): boolean {
  return fn.component !== "memory" && !(fn.channel !== undefined && RECEIVE_ONLY_CHANNELS.has(fn.channel));
}

/** The keys come from the API server in the cluster (the default), not from a provider's public issuer. */
function keysFromApiServer(ctx: RenderContext): boolean {
  return API_SERVER_HOST.test(new URL(ctx.config.oidc.jwksUrl).hostname);
}

/**
 * A Trigger's subscriber or a dead-letter sink that is one of knclaw's functions, with that function's audience; any
 * other destination as it is (an external skill's audience comes from its config; a Knative addressable announces
 * its own).
 */
export function withAudience(ctx: RenderContext, destination: Destination): Destination {
  if (!oidcEnabled(ctx) || destination.audience !== undefined) return destination;
  const ref = destination.ref;
  const ownFunction =
    ref !== undefined &&
    ref.apiVersion === "serving.knative.dev/v1" &&
    ref.kind === "Service" &&
    (ref.namespace === undefined || ref.namespace === ctx.namespace) &&
    findFunction(ctx, ref.name) !== undefined;
  return ownFunction ? { ...destination, audience: serviceAudience(ctx, ref.name) } : destination;
}

/** The delivery-authentication variables of a function (runtime/platform-env.ts), none with OIDC off. */
export function deliveryAuthEnv(ctx: RenderContext, fn: FunctionSpec): EnvVar[] {
  if (!oidcEnabled(ctx)) return [];
  const receives = takesDeliveries(fn);
  const apiServer = receives && keysFromApiServer(ctx);
  return platformEnv.render({
    ...(receives
      ? {
          deliveryAudience: serviceAudience(ctx, fn.name),
          oidcIssuer: oidcIssuer(ctx.config.oidc.issuer, ctx.config.network.clusterDomain),
          oidcJwksUrl: ctx.config.oidc.jwksUrl,
          deliverySenders: deliverySenders(ctx, fn.name).join(","),
        }
      : {}),
    ...(apiServer
      ? { oidcJwksTokenFile: `${OIDC_DIR}/${API_TOKEN}`, oidcJwksCaFile: `${OIDC_DIR}/${CLUSTER_CA}` }
      : {}),
    ...(fn.producer ? { oidcTokenFile: `${OIDC_DIR}/${BROKER_TOKEN}` } : {}),
  });
}

/**
 * The identities that deliver to a function: the OIDC ServiceAccount of each Trigger whose subscriber it is, and of
 * every Trigger when it is the dead-letter sink (a Trigger's own delivery carries the sink over, or the Broker's
 * applies).
 */
function deliverySenders(ctx: RenderContext, name: string): string[] {
  const triggers = renderTriggers(ctx);
  const isSink = deadLetterSink(ctx)?.ref?.name === name;
  return triggers
    .filter((trigger) => isSink || subscriberName(trigger) === name)
    .map((trigger) =>
      serviceAccountSubject(
        ctx.namespace,
        knativeOidcServiceAccount({ group: "eventing.knative.dev", kind: "Trigger", name: trigger.metadata.name }),
      ),
    );
}

function subscriberName(trigger: RenderedObject): string | undefined {
  return (trigger.spec as { subscriber: Destination }).subscriber.ref?.name;
}

/** The projected volume holding a function's tokens (and the cluster's CA), with its mount; none when not needed. */
export function deliveryAuthVolume(
  ctx: RenderContext,
  fn: FunctionSpec,
): { volume: Record<string, unknown>; mount: Record<string, unknown> } | undefined {
  if (!oidcEnabled(ctx)) return undefined;
  const expirationSeconds = ctx.config.oidc.tokenExpirationSeconds;
  const sources: Record<string, unknown>[] = [];
  if (fn.producer) {
    sources.push({ serviceAccountToken: { audience: brokerAudience(ctx), expirationSeconds, path: BROKER_TOKEN } });
  }
  if (takesDeliveries(fn) && keysFromApiServer(ctx)) {
    // No audience: the API server's own, which it accepts for reading its keys.
    sources.push(
      { serviceAccountToken: { expirationSeconds, path: API_TOKEN } },
      { configMap: { name: ROOT_CA_CONFIG_MAP, items: [{ key: CLUSTER_CA, path: CLUSTER_CA }] } },
    );
  }
  if (sources.length === 0) return undefined;
  return {
    volume: { name: OIDC_VOLUME, projected: { sources } },
    mount: { name: OIDC_VOLUME, mountPath: OIDC_DIR, readOnly: true },
  };
}

/**
 * Whether a function's egress must reach the API server (to read the issuer's keys there), and the host it must reach
 * otherwise (a provider's public issuer).
 */
export function deliveryAuthEgress(ctx: RenderContext, fn: FunctionSpec): { apiServer: boolean; host?: URL } {
  if (!oidcEnabled(ctx) || !takesDeliveries(fn)) return { apiServer: false };
  if (keysFromApiServer(ctx)) return { apiServer: true };
  return { apiServer: false, host: new URL(ctx.config.oidc.jwksUrl) };
}
