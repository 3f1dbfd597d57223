/**
 * Section `broker`: the one Broker every route hangs off, its delivery defaults (which every Trigger inherits unless
 * it sets its own) and its dead-letter sink: the knclaw `deadletter` function by default, or any Destination.
 */
import { z } from "zod";
import { parseIsoDuration } from "../../../runtime/duration.ts";
import { Delivery, Destination, IsoDuration, KsvcKnobs, KubernetesName, SecretRef } from "../primitives.ts";

const DeadLetterSink = z
  .strictObject({
    function: KsvcKnobs.optional().describe("Knobs of the knclaw deadletter function (the default sink)."),
    destination: Destination.optional().describe(
      "Send dead letters elsewhere instead; no deadletter function is rendered then.",
    ),
    disabled: z
      .literal(true)
      .optional()
      .describe("No dead-letter sink at all: failed events are dropped after the last retry."),
    apiToken: SecretRef.optional().describe(
      "The deadletter function's operator API token (`knclaw dlq`, bearer). Default: the Secret knclaw-deadletter, key api-token, optional: without it the function still keeps dead letters and its API answers 403.",
    ),
    retention: z
      .strictObject({
        maxEntries: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .optional()
          .describe("How many dead letters are kept (the newest)."),
        maxAge: IsoDuration.refine(
          (v) => {
            const ms = parseIsoDuration(v)?.ms ?? 0;
            return ms >= 60_000 && ms <= 366 * 86_400_000;
          },
          { message: "between one minute and 366 days", params: { rule: "duration" } },
        )
          .optional()
          .describe(
            "How long a dead letter is kept after it last arrived: ISO-8601, one minute to 366 days (P7D, PT12H).",
          ),
      })
      .optional()
      .describe(
        "How much the deadletter function keeps: the newest `maxEntries`, each for `maxAge` after it last arrived.",
      ),
  })
  .superRefine((sink, ctx) => {
    if ((sink.apiToken !== undefined || sink.retention !== undefined) && (sink.destination || sink.disabled)) {
      ctx.addIssue({
        code: "custom",
        input: sink,
        message: "apiToken and retention configure the knclaw deadletter function, not another destination",
        params: { rule: "dead-letter-sink" },
      });
    }
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

/** Kafka settings knclaw renders into the broker's ConfigMap (knative/render/broker.ts). */
const KafkaSettings = z.strictObject({
  bootstrapServers: z
    .array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { message: "host:port" }))
    .min(1)
    .optional()
    .describe(
      "`host:port` of the Kafka bootstrap servers (class Kafka; a KafkaChannel takes them from Knative's own config).",
    ),
  partitions: z.number().int().min(1).max(10_000).default(10).describe("Partitions of each topic the broker creates."),
  replicationFactor: z
    .number()
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe("Replicas of each partition (3 for production; 1 on a one-broker test cluster)."),
});

/** Whether class, channel, kafka and config make one coherent choice. */
function brokerClassProblem(broker: {
  class: string;
  channel?: string | undefined;
  kafka?: { bootstrapServers?: string[] | undefined } | undefined;
  config?: unknown;
}): string | undefined {
  if (broker.config !== undefined && (broker.channel !== undefined || broker.kafka !== undefined)) {
    return "config names a ConfigMap of your own; channel and kafka make knclaw render one: choose one way";
  }
  if (broker.channel !== undefined && broker.class !== "MTChannelBasedBroker") {
    return "channel is for class MTChannelBasedBroker";
  }
  if (broker.class === "Kafka" && broker.config === undefined && broker.kafka?.bootstrapServers === undefined) {
    return "class Kafka needs kafka.bootstrapServers (or config naming the broker's ConfigMap)";
  }
  if (broker.kafka !== undefined && broker.class !== "Kafka" && broker.channel !== "KafkaChannel") {
    return "kafka settings are for class Kafka or channel KafkaChannel";
  }
  if (broker.kafka?.bootstrapServers !== undefined && broker.class !== "Kafka") {
    return "a KafkaChannel takes its bootstrap servers from Knative's config-kafka-channel, not from knclaw";
  }
  return undefined;
}

const Broker = z
  .strictObject({
    name: KubernetesName.default("default").describe("Name of the Broker."),
    class: z
      .string()
      .min(1)
      .default("MTChannelBasedBroker")
      .describe(
        "`eventing.knative.dev/broker.class`: MTChannelBasedBroker (on InMemoryChannel to try things, KafkaChannel for durable delivery) or Kafka (Knative's Kafka broker, for production).",
      ),
    channel: z
      .enum(["InMemoryChannel", "KafkaChannel"])
      .optional()
      .describe(
        "The channel an MTChannelBasedBroker runs on (knclaw renders the ConfigMap naming it); unset, the cluster's default channel.",
      ),
    kafka: KafkaSettings.optional().describe(
      "Topic settings (and, for class Kafka, the bootstrap servers) of the ConfigMap knclaw renders for the broker.",
    ),
    config: z
      .strictObject({
        apiVersion: z.string().min(1).default("v1"),
        kind: z.string().min(1).default("ConfigMap"),
        name: KubernetesName,
        namespace: KubernetesName.optional(),
      })
      .optional()
      .describe("`spec.config`: a ConfigMap (or other object) configuring the broker class."),
    delivery: Delivery.prefault({
      retry: 5,
      backoffPolicy: "exponential",
      backoffDelay: "PT0.5S",
      timeout: "PT60S",
    }).describe("Delivery defaults (retries, backoff, per-attempt timeout)."),
    deadLetterSink: DeadLetterSink.prefault({}).describe(
      "Where events go after their last failed delivery: the knclaw deadletter function (default), another Destination, or nowhere.",
    ),
  })
  .superRefine((broker, ctx) => {
    const problem = brokerClassProblem(broker);
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", input: broker, message: problem, params: { rule: "broker-class" } });
    }
  });

export const brokerSection = {
  broker: Broker.prefault({}),
};
