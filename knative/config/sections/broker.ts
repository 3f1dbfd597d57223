/**
 * Section `broker`: the one Broker every route hangs off, its delivery defaults (which every Trigger inherits unless
 * it sets its own) and its dead-letter sink: the knclaw `deadletter` function by default, or any Destination.
 */
import { z } from "zod";
import { Delivery, Destination, KsvcKnobs, KubernetesName } from "../primitives.ts";

export const DeadLetterSink = z
  .strictObject({
    /** Knobs of the knclaw deadletter function (the default sink). */
    function: KsvcKnobs.optional(),
    /** Send dead letters elsewhere instead; no deadletter function is rendered then. */
    destination: Destination.optional(),
    /** No dead-letter sink at all: failed events are dropped after the last retry. */
    disabled: z.literal(true).optional(),
  })
  .superRefine((sink, ctx) => {
    const chosen = [sink.function !== undefined, sink.destination !== undefined, sink.disabled === true].filter(
      Boolean,
    );
    if (chosen.length > 1) {
      ctx.addIssue({
        code: "custom",
        input: sink,
        message: "choose one of function, destination or disabled",
        params: { rule: "dead-letter-sink" },
      });
    }
  });
export type DeadLetterSink = z.infer<typeof DeadLetterSink>;

export const Broker = z.strictObject({
  name: KubernetesName.default("default"),
  /** `eventing.knative.dev/broker.class`; the broker ingress URL knclaw uses is the MT channel-based broker's. */
  class: z.string().min(1).default("MTChannelBasedBroker"),
  /** `spec.config`: a ConfigMap (or other object) configuring the broker class. */
  config: z
    .strictObject({
      apiVersion: z.string().min(1).default("v1"),
      kind: z.string().min(1).default("ConfigMap"),
      name: KubernetesName,
      namespace: KubernetesName.optional(),
    })
    .optional(),
  /** Delivery defaults (retries, backoff, per-attempt timeout). */
  delivery: Delivery.prefault({ retry: 5, backoffPolicy: "exponential", backoffDelay: "PT0.5S", timeout: "PT60S" }),
  deadLetterSink: DeadLetterSink.prefault({}),
});
export type BrokerConfig = z.infer<typeof Broker>;

export const brokerSection = {
  broker: Broker.prefault({}),
};
