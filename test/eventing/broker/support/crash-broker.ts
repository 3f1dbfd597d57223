/**
 * The process the broker crash tests kill: `knclaw dev`'s runtime (startDev) with one Broker and one Trigger to the
 * test's subscriber, on a durable store. Settings come as JSON in argv[2]; prints `READY <url>` once it takes events,
 * and shuts down gracefully on SIGTERM.
 */
import { parseAllDocuments } from "yaml";
import type { BrokerStoreChoice } from "../../../../cli/dev/broker-store.ts";
import { startDev } from "../../../../cli/dev/start-dev.ts";
import type { KnativeObject } from "../../../../eventing/broker/objects.ts";

export interface CrashBrokerSettings {
  store: BrokerStoreChoice;
  subscriber: string;
  /** The Trigger's `spec.delivery`, as YAML flow mapping text. */
  delivery?: string;
  /** How long SIGTERM lets in-flight deliveries run (default 5 s). */
  drainTimeoutMs?: number;
}

const settings = JSON.parse(process.argv[2]!) as CrashBrokerSettings;
const runtime = await startDev({
  objects: parseAllDocuments(`
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t1, namespace: test }
spec:
  broker: default
  subscriber: { uri: "${settings.subscriber}/deliveries" }
  ${settings.delivery ? `delivery: ${settings.delivery}` : ""}
`).map((doc) => doc.toJS() as KnativeObject),
  port: 0,
  env: {},
  schedulePings: false,
  brokerStore: settings.store,
  drainTimeoutMs: settings.drainTimeoutMs ?? 5_000,
});
process.once("SIGTERM", () => {
  void runtime.shutdown().then(() => process.exit(0));
});
process.stdout.write(`READY ${runtime.url}\n`);
