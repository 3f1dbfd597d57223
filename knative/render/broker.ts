/**
 * The Broker: its class, delivery defaults (every Trigger without its own delivery inherits them) and its
 * dead-letter sink (the knclaw deadletter function unless the config names another Destination or none).
 */

import { stringify } from "yaml";
import { ANNOTATION_BROKER_CLASS } from "../../runtime/names.ts";
import type { Delivery as DeliveryConfig } from "../config/primitives.ts";
import { baseLabels, findFunction, ksvcRef, metadata, type RenderContext } from "./context.ts";
import { withAudience } from "./delivery-auth.ts";
import type { Destination, RenderedObject } from "./types.ts";

export function renderBroker(ctx: RenderContext): RenderedObject {
  const broker = ctx.config.broker;
  const delivery: Record<string, unknown> = deliverySpec(broker.delivery);
  const sink = deadLetterSink(ctx);
  if (sink !== undefined) delivery.deadLetterSink = sink;
  const spec: Record<string, unknown> = {};
  if (broker.config !== undefined) spec.config = { ...broker.config };
  const rendered = brokerConfigMap(ctx);
  if (rendered !== undefined) {
    spec.config = { apiVersion: "v1", kind: "ConfigMap", name: rendered.name, namespace: ctx.namespace };
  }
  spec.delivery = delivery;
  return {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Broker",
    metadata: metadata(
      ctx,
      broker.name,
      { ...baseLabels(ctx, broker.name), "knclaw.dev/component": "broker" },
      {
        [ANNOTATION_BROKER_CLASS]: broker.class,
      },
    ),
    spec,
  };
}

/** Names of the ConfigMaps knclaw renders for the broker class. */
const KAFKA_BROKER_CONFIG = "knclaw-kafka-broker-config";
const BROKER_CHANNEL_CONFIG = "knclaw-broker-channel";

/**
 * The broker class's ConfigMap when the config chooses through knclaw (class Kafka with its bootstrap servers, or an
 * MTChannelBasedBroker's channel): the data Knative's Kafka broker reads (`bootstrap.servers`, topic partitions and
 * replication), or the channel template an MTChannelBasedBroker creates its channel from.
 */
function brokerConfigMap(ctx: RenderContext): { name: string; data: Record<string, string> } | undefined {
  const broker = ctx.config.broker;
  if (broker.class === "Kafka" && broker.kafka?.bootstrapServers !== undefined) {
    return {
      name: KAFKA_BROKER_CONFIG,
      data: {
        "bootstrap.servers": broker.kafka.bootstrapServers.join(","),
        "default.topic.partitions": String(broker.kafka.partitions),
        "default.topic.replication.factor": String(broker.kafka.replicationFactor),
      },
    };
  }
  if (broker.channel === "KafkaChannel") {
    const kafka = broker.kafka ?? { partitions: 10, replicationFactor: 3 };
    return {
      name: BROKER_CHANNEL_CONFIG,
      data: {
        "channel-template-spec": stringify({
          apiVersion: "messaging.knative.dev/v1beta1",
          kind: "KafkaChannel",
          spec: { numPartitions: kafka.partitions, replicationFactor: kafka.replicationFactor },
        }),
      },
    };
  }
  if (broker.channel === "InMemoryChannel") {
    return {
      name: BROKER_CHANNEL_CONFIG,
      data: { "channel-template-spec": stringify({ apiVersion: "messaging.knative.dev/v1", kind: "InMemoryChannel" }) },
    };
  }
  return undefined;
}

export function renderBrokerConfig(ctx: RenderContext): RenderedObject[] {
  const config = brokerConfigMap(ctx);
  if (config === undefined) return [];
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: metadata(ctx, config.name, baseLabels(ctx, config.name)),
      data: config.data,
    },
  ];
}

export function deliverySpec(delivery: DeliveryConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (delivery.retry !== undefined) out.retry = delivery.retry;
  if (delivery.backoffPolicy !== undefined) out.backoffPolicy = delivery.backoffPolicy;
  if (delivery.backoffDelay !== undefined) out.backoffDelay = delivery.backoffDelay;
  if (delivery.timeout !== undefined) out.timeout = delivery.timeout;
  return out;
}

export function deadLetterSink(ctx: RenderContext): Destination | undefined {
  const sink = ctx.config.broker.deadLetterSink;
  if (sink.disabled === true) return undefined;
  if (sink.destination !== undefined) {
    const dest: Destination = {};
    if (sink.destination.ref !== undefined) dest.ref = { ...sink.destination.ref };
    if (sink.destination.uri !== undefined) dest.uri = sink.destination.uri;
    return dest;
  }
  return findFunction(ctx, "deadletter") ? withAudience(ctx, { ref: ksvcRef("deadletter") }) : undefined;
}
