/**
 * The broker's Knative conformance suites again, with every runtime on the sqlite delivery journal: a durable broker
 * must behave exactly like the in-memory one (deliveries, retries and backoff, dead letters, replies, filters).
 */
import { useBrokerStore } from "../../support/dev-platform.ts";

useBrokerStore("sqlite");
await import("./delivery.test.ts");
await import("./replies.test.ts");
await import("./filters.test.ts");
