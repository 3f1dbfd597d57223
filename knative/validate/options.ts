/**
 * Cluster settings the Knative webhooks consult. The defaults are Knative's own defaults; a cluster configured
 * otherwise passes its values (`knclaw validate --max-timeout 900`).
 */
export interface WebhookOptions {
  /** config-defaults max-revision-timeout-seconds. */
  maxRevisionTimeoutSeconds: number;
  /** config-defaults container-concurrency-max-limit. */
  containerConcurrencyMaxLimit: number;
  /** config-autoscaler allow-zero-initial-scale. */
  allowZeroInitialScale: boolean;
  /** config-autoscaler max-scale-limit (0: none). */
  maxScaleLimit: number;
  /** config-features new-trigger-filters (Trigger spec.filters). */
  newTriggerFilters: boolean;
  /** config-features delivery-timeout (DeliverySpec timeout). */
  deliveryTimeout: boolean;
  /** config-features delivery-retryafter (DeliverySpec retryAfterMax). */
  deliveryRetryAfter: boolean;
  /** config-ping-defaults data-max-size (-1: no limit). */
  pingDataMaxSize: number;
  /** Eventing config-features authentication-oidc: EventPolicies are refused without it. */
  authenticationOidc: boolean;
  /**
   * Eventing config-features cross-namespace-event-links: a Trigger's `spec.brokerRef` may name a Broker of another
   * namespace. Without it (Knative's default) `brokerRef.namespace` is refused.
   */
  crossNamespaceEventLinks: boolean;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  maxRevisionTimeoutSeconds: 600,
  containerConcurrencyMaxLimit: 1000,
  allowZeroInitialScale: false,
  maxScaleLimit: 0,
  newTriggerFilters: true,
  deliveryTimeout: true,
  deliveryRetryAfter: false,
  pingDataMaxSize: -1,
  authenticationOidc: false,
  crossNamespaceEventLinks: false,
};
