import { type Counter, type Histogram, type MeterProvider, metrics, type ObservableGauge } from "@opentelemetry/api";

/**
 * Every metric knclaw records, named once. The GenAI client metrics follow the OpenTelemetry GenAI semantic
 * conventions; the rest are knclaw's own (`knclaw.*`). Instruments come from the meter provider registered when they
 * are first used after a change, so a module may ask for them before runtime/telemetry.ts started the SDK; without an
 * SDK they are the API's no-ops.
 */
export interface Instruments {
  /** gen_ai.client.token.usage: tokens per model call, by gen_ai.token.type (`input`, `output`). */
  tokenUsage: Histogram;
  /** gen_ai.client.operation.duration: seconds per model call, with error.type on failures. */
  operationDuration: Histogram;
  /** Runs that ended, by knclaw.instance and knclaw.run.outcome (`completed`, `failed`) and knclaw.run.reason. */
  runs: Counter;
  /** Cost of the runs that ended, in US dollars, by knclaw.instance. */
  cost: Counter;
  /** Tool calls a skill answered, by knclaw.skill, gen_ai.tool.name and knclaw.tool.outcome (`ok` or the error class). */
  toolCalls: Counter;
  /**
   * Approvals, by knclaw.approval.decision (`requested`, `granted`, `denied`, `refused`: a decision from someone who
   * may not approve, the call still held; `expired`).
   */
  approvals: Counter;
  /** Runs stopped by a budget, by knclaw.budget.kind. */
  budgetExhausted: Counter;
  /** Policy refusals of proposed tool calls, by knclaw.instance. */
  policyRefusals: Counter;
  /** Broker deliveries that finished, by knclaw.trigger and knclaw.delivery.outcome. */
  brokerDeliveries: Counter;
  /** Broker delivery attempts past the first, by knclaw.trigger. */
  brokerRetries: Counter;
  /** Events sent to a dead-letter sink, by knclaw.trigger. */
  brokerDeadLetters: Counter;
  /** Deliveries not yet finished (queued, in flight or waiting for a retry), by knclaw.broker. */
  brokerQueueDepth: ObservableGauge;
}

/** Bucket boundaries the GenAI conventions advise. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

let current: { provider: MeterProvider; instruments: Instruments } | undefined;

export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (current?.provider !== provider) current = { provider, instruments: create(provider) };
  return current.instruments;
}

function create(provider: MeterProvider): Instruments {
  const meter = provider.getMeter("knclaw");
  return {
    tokenUsage: meter.createHistogram("gen_ai.client.token.usage", {
      description: "Number of input and output tokens used",
      unit: "{token}",
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    }),
    operationDuration: meter.createHistogram("gen_ai.client.operation.duration", {
      description: "GenAI operation duration",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    runs: meter.createCounter("knclaw.runs", { description: "Runs that ended", unit: "{run}" }),
    cost: meter.createCounter("knclaw.run.cost", { description: "Cost of the runs that ended", unit: "USD" }),
    toolCalls: meter.createCounter("knclaw.tool.calls", { description: "Tool calls answered", unit: "{call}" }),
    approvals: meter.createCounter("knclaw.approvals", { description: "Approvals", unit: "{approval}" }),
    budgetExhausted: meter.createCounter("knclaw.budget.exhausted", {
      description: "Runs stopped by a budget",
      unit: "{run}",
    }),
    policyRefusals: meter.createCounter("knclaw.policy.refusals", {
      description: "Proposed tool calls the policy refused",
      unit: "{call}",
    }),
    brokerDeliveries: meter.createCounter("knclaw.broker.deliveries", {
      description: "Broker deliveries that finished",
      unit: "{delivery}",
    }),
    brokerRetries: meter.createCounter("knclaw.broker.retries", {
      description: "Broker delivery attempts past the first",
      unit: "{attempt}",
    }),
    brokerDeadLetters: meter.createCounter("knclaw.broker.dead_letters", {
      description: "Events sent to a dead-letter sink",
      unit: "{event}",
    }),
    brokerQueueDepth: meter.createObservableGauge("knclaw.broker.queue.depth", {
      description: "Deliveries not yet finished",
      unit: "{delivery}",
    }),
  };
}
