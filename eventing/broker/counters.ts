/**
 * What a broker did, for `knclaw dev`'s status output, the tests and the benchmark.
 * - accepted: events taken in (ingress 202s and ingested replies)
 * - rejected: ingress requests refused (bad event, TTL exhausted, too large, queue full)
 * - unmatched: accepted events no Trigger wanted (dropped silently, as Knative does)
 * - delivered: Trigger deliveries that got a 2xx
 * - retried: extra attempts, to subscribers and to dead-letter sinks
 * - deadLettered: deliveries handed to a dead-letter sink
 * - dropped: deliveries that failed for good without a (working) dead-letter sink, or were cut by shutdown
 * - replies: reply events ingested back into the broker
 */
export interface BrokerCounters {
  accepted: number;
  rejected: number;
  unmatched: number;
  delivered: number;
  retried: number;
  deadLettered: number;
  dropped: number;
  replies: number;
}

export function emptyCounters(): BrokerCounters {
  return { accepted: 0, rejected: 0, unmatched: 0, delivered: 0, retried: 0, deadLettered: 0, dropped: 0, replies: 0 };
}

export function sumCounters(all: Iterable<BrokerCounters>): BrokerCounters {
  const total = emptyCounters();
  for (const counters of all) {
    for (const key of Object.keys(total) as Array<keyof BrokerCounters>) total[key] += counters[key];
  }
  return total;
}
