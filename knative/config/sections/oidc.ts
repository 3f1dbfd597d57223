/**
 * Section `oidc`: Knative Eventing's delivery authentication (the `authentication-oidc` feature, alpha and off by
 * default in Knative, hence off by default here). When on, knclaw renders what a cluster with the feature needs
 * (knative/render/delivery-auth.ts, knative/render/event-policies.ts): EventPolicies so only knclaw's own senders may
 * post to the Broker, each limited to the event types it emits; an audience on every Trigger subscriber and on the
 * dead-letter sink; the audience, issuer and JWKS each function checks deliveries against; and a ServiceAccount token
 * for the Broker's audience in every function that sends. It must match the cluster: with the feature on, the broker
 * ingress refuses every event without a token (401); with it off, Knative's webhook refuses EventPolicies.
 */
import { z } from "zod";

const Oidc = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe(
      "Render for a cluster whose Knative Eventing has `authentication-oidc: enabled` in `config-features`. `knclaw dev` emulates delivery authentication whatever this says.",
    ),
  issuer: z
    .url({ protocol: /^https$/, message: "an https URL" })
    .optional()
    .describe(
      "The cluster's ServiceAccount token issuer (the API server's `--service-account-issuer`; `kubectl get --raw /.well-known/openid-configuration` shows it). Default: `https://kubernetes.default.svc.<network.clusterDomain>`, kubeadm's default.",
    ),
  jwksUrl: z
    .url({ protocol: /^https$/, message: "an https URL" })
    .default("https://kubernetes.default.svc/openid/v1/jwks")
    .describe(
      "Where the functions fetch the issuer's public keys. The default is the API server in the cluster: each function then gets its own ServiceAccount token and the cluster's CA to fetch them with (RBAC's default `system:service-account-issuer-discovery` binding lets any ServiceAccount read them) and egress to the API server. A provider's public issuer URL (EKS, GKE) needs neither.",
    ),
  tokenExpirationSeconds: z
    .number()
    .int()
    .min(600)
    .max(86_400)
    .default(3600)
    .describe(
      "Lifetime of the projected ServiceAccount tokens (the kubelet refreshes them at 80% of it); Kubernetes' minimum is 600.",
    ),
});

export const oidcSection = {
  oidc: Oidc.prefault({}).describe(
    "Delivery authentication on Knative (sender identity and EventPolicies); see README, Running on Knative with OIDC on.",
  ),
};

/** The issuer the functions accept tokens of: the configured one, else kubeadm's default for the cluster's domain. */
export function oidcIssuer(issuer: string | undefined, clusterDomain: string): string {
  return issuer ?? `https://kubernetes.default.svc.${clusterDomain}`;
}
