import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { registerValidateCommand } from "../../../cli/commands/validate.ts";
import { formatManifestsReport, runValidateManifests } from "../../../cli/commands/validate-manifests.ts";
import { clusterUrlRewriter } from "../../../cli/dev/cluster-url.ts";
import { describeRuntime } from "../../../cli/dev/listing.ts";
import { parseServiceCommands, parseServiceMap, ServiceMapError } from "../../../cli/dev/service-map.ts";
import { type DevRuntime, InvalidObjectsError } from "../../../cli/dev/start-dev.ts";
import { collectOutput, exited, spawnKnclaw, waitForOutput } from "../../support/cli-process.ts";
import { postBinary, type Subscriber, startSubscriber, startTestRuntime } from "../../support/dev-platform.ts";

/**
 * Knative's own documentation examples (test/cli/dev/fixtures/knative-docs, each file naming its page and commit),
 * run by knclaw dev as written and checked by `knclaw validate --manifests` through the same loader. Where a page
 * creates a Broker with `kn` (no YAML), the test writes that Broker itself, and says so.
 */
const DOCS = join(import.meta.dirname, "fixtures", "knative-docs");

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function subscriber(): Promise<Subscriber> {
  const sub = await startSubscriber();
  cleanup.push(() => sub.close());
  return sub;
}

/** A manifests folder: the docs examples named, plus objects the test adds (e.g. the Broker `kn broker create` makes). */
function folder(examples: string[], extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-docs-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const example of examples) cpSync(join(DOCS, example), join(dir, example), { recursive: true });
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

/** What `kn broker create NAME [--namespace NS]` creates, as YAML (the test's own, not a docs copy). */
function knBroker(name: string, namespace = "default"): string {
  return `apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: ${name}, namespace: ${namespace} }\n`;
}

async function start(manifestsDir: string, services: string[] = [], extra = {}): Promise<DevRuntime> {
  const runtime = await startTestRuntime("", { manifestsDir, services: parseServiceMap(services), ...extra });
  cleanup.push(() => runtime.shutdown());
  return runtime;
}

/** What a start that must fail throws (a start that succeeds is shut down and yields undefined). */
async function startFailure(options: Parameters<typeof startTestRuntime>[1]): Promise<unknown> {
  return startTestRuntime("", options).then(
    async (runtime) => {
      await runtime.shutdown();
      return undefined;
    },
    (e: unknown) => e,
  );
}

async function refusal(options: Parameters<typeof startTestRuntime>[1]): Promise<InvalidObjectsError> {
  const error = await startFailure(options);
  expect(error).toBeInstanceOf(InvalidObjectsError);
  return error as InvalidObjectsError;
}

describe("Knative docs: the PingSource how-to (docs/versioned/eventing/sources/ping-source)", () => {
  it("as written: the event-display Service is not run, so both PingSources are admitted and not Ready (SinkProvided=False)", async () => {
    const runtime = await start(folder(["ping-source"]));
    expect(runtime.skippedServices).toEqual(["Service default/event-display"]);
    expect(runtime.pingSources).toEqual([]);
    expect(runtime.notReady.map((o) => [o.object, o.condition, o.reason])).toEqual([
      ["PingSource default/test-ping-source-binary", "SinkProvided", "NotFound"],
      ["PingSource default/test-ping-source", "SinkProvided", "NotFound"],
    ]);
    expect(runtime.notReady[0]!.message).toContain("--service event-display=URL");
    const listing = describeRuntime(runtime).join("\n");
    expect(listing).toContain("Not Ready");
    expect(listing).toMatch(/PingSource default\/test-ping-source {2}SinkProvided=False NotFound/);
    await expect(runtime.pings.fire("default", "test-ping-source")).rejects.toThrow(/no PingSource/);
  });

  it("with --service event-display=URL the ticks reach the local service over HTTP, data and content type as written", async () => {
    const display = await subscriber();
    const runtime = await start(folder(["ping-source"]), [`event-display=${display.url}`]);
    expect(runtime.notReady).toEqual([]);
    expect(runtime.skippedServices).toEqual([]);
    expect(describeRuntime(runtime).join("\n")).toContain(`(any namespace)/event-display -> ${display.url}`);
    await runtime.pings.fire("default", "test-ping-source");
    const json = await display.waitUntil(
      (r) => r.headers["ce-source"] === "/apis/v1/namespaces/default/pingsources/test-ping-source",
    );
    expect(json.headers["ce-type"]).toBe("dev.knative.sources.ping");
    expect(json.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(json.body.toString())).toEqual({ message: "Hello world!" });
    await runtime.pings.fire("default", "test-ping-source-binary");
    const binary = await display.waitUntil((r) => String(r.headers["ce-source"]).endsWith("/test-ping-source-binary"));
    expect(binary.headers["content-type"]).toBe("text/plain");
    expect(binary.body.toString()).toBe("data");
  });
});

describe("Knative docs: Using Triggers (docs/versioned/eventing/triggers/README.md)", () => {
  it("a Trigger on a Broker that does not exist is admitted and not Ready (BrokerReady=False BrokerDoesNotExist)", async () => {
    const runtime = await start(folder(["trigger-ksvc"]));
    expect(runtime.triggers).toEqual([]);
    expect(runtime.notReady).toMatchObject([
      {
        object: "Trigger default/my-service-trigger",
        condition: "BrokerReady",
        reason: "BrokerDoesNotExist",
        message: 'Broker "default" does not exist',
      },
    ]);
  });

  it("a subscriber Service that is not defined is not Ready (SubscriberResolved=False) and gets nothing", async () => {
    const runtime = await start(folder(["trigger-ksvc"], { "broker.yaml": knBroker("default") }));
    expect(runtime.notReady).toMatchObject([
      {
        object: "Trigger default/my-service-trigger",
        condition: "SubscriberResolved",
        reason: "Unable to get the Subscriber's URI",
      },
    ]);
    expect(runtime.notReady[0]!.message).toMatch(/services\.serving\.knative\.dev "my-service" not found/);
    expect((await postBinary(`${runtime.url}/default/default`, { id: "nobody" })).status).toBe(202);
    await runtime.idle();
    expect(runtime.counters.delivered).toBe(0);
  });

  it("delivers to a Knative Service ref mapped with --service", async () => {
    const service = await subscriber();
    const dir = folder(["trigger-ksvc"], { "broker.yaml": knBroker("default") });
    const runtime = await start(dir, [`default/my-service=${service.url}`]);
    expect(runtime.notReady).toEqual([]);
    expect((await postBinary(`${runtime.url}/default/default`, { id: "to-ksvc" })).status).toBe(202);
    expect((await service.waitForEvent("to-ksvc")).path).toBe("/");
    // Code running in the process reaches the mapped Service at its cluster address too (runtime.fetch).
    const viaFetch = await runtime.fetch("http://my-service.default.svc.cluster.local/direct?x=1", {
      method: "POST",
      body: "hello",
    });
    expect(viaFetch.status).toBe(200);
    const direct = await service.waitUntil((r) => r.path === "/direct?x=1");
    expect(direct.body.toString()).toBe("hello");
  });

  it("a Kubernetes Service the folder defines is listed as not run, and a Trigger to it says how to map it", async () => {
    const service = `apiVersion: v1\nkind: Service\nmetadata: { name: my-service }\nspec:\n  ports: [ { port: 80 } ]\n`;
    const dir = folder(["trigger-service-path"], { "broker.yaml": knBroker("default"), "service.yaml": service });
    const runtime = await start(dir);
    expect(runtime.notRun).toEqual(["Service my-service"]);
    expect(runtime.notReady).toMatchObject([{ condition: "SubscriberResolved" }]);
    expect(runtime.notReady[0]!.message).toMatch(
      /Service default\/my-service is not run by knclaw dev.*--service my-service=URL/,
    );
  });

  it("delivers to a Kubernetes Service ref with the relative uri path (/my-custom-path)", async () => {
    const service = await subscriber();
    const dir = folder(["trigger-service-path"], { "broker.yaml": knBroker("default") });
    const runtime = await start(dir, [`my-service=${service.url}/base`]);
    expect((await postBinary(`${runtime.url}/default/default`, { id: "to-path" })).status).toBe(202);
    expect((await service.waitForEvent("to-path")).path).toBe("/base/my-custom-path");
  });

  it("the legacy attributes filter matches type and extension exactly", async () => {
    const service = await subscriber();
    const dir = folder(["trigger-legacy-filter"], { "broker.yaml": knBroker("default") });
    const runtime = await start(dir, [`my-service=${service.url}`]);
    const match = { type: "dev.knative.foo.bar", extra: { myextension: "my-extension-value" } };
    expect(
      (await postBinary(`${runtime.url}/default/default`, { id: "other", type: "dev.knative.foo.bar" })).status,
    ).toBe(202);
    expect((await postBinary(`${runtime.url}/default/default`, { id: "matches", ...match })).status).toBe(202);
    await service.waitForEvent("matches");
    await runtime.idle();
    expect(service.received.map((r) => r.headers["ce-id"])).toEqual(["matches"]);
  });

  it("Trigger annotations: knative.dev/dependency on a PingSource makes the Trigger not Ready (DependencyReady) while it stays subscribed", async () => {
    // The page's dependency example with its subscriber indented where it belongs (as printed it is refused, below).
    const trigger = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: my-service-trigger
  annotations:
    knative.dev/dependency: '{"kind":"PingSource","name":"test-ping-source","apiVersion":"sources.knative.dev/v1"}'
spec:
  broker: default
  filter:
    attributes:
      type: dev.knative.foo.bar
      myextension: my-extension-value
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: my-service
`;
    const service = await subscriber();
    const dir = folder(["ping-source"], { "broker.yaml": knBroker("default"), "trigger.yaml": trigger });
    const runtime = await start(dir, [`my-service=${service.url}`]);
    // The PingSource's sink (event-display) is not mapped: it is not Ready, so neither is the Trigger's dependency.
    expect(runtime.notReady.find((o) => o.kind === "Trigger")).toMatchObject({
      condition: "DependencyReady",
      reason: "DependencyNotReady",
      message: "PingSource default/test-ping-source is not Ready",
      acting: true,
    });
    expect(describeRuntime(runtime).join("\n")).toContain("(subscribed all the same, as on a cluster)");
    const match = { type: "dev.knative.foo.bar", extra: { myextension: "my-extension-value" } };
    expect((await postBinary(`${runtime.url}/default/default`, { id: "still", ...match })).status).toBe(202);
    await service.waitForEvent("still");
    const ready = await start(dir, [`my-service=${service.url}`, `event-display=${service.url}`]);
    expect(ready.notReady).toEqual([]);
  });

  // The page's own mistakes: Knative's webhook (or the API server's schema) refuses each, and so does knclaw dev.
  const refused: Array<[string, string, string]> = [
    ["trigger-two-dialects", "two dialects in one spec.filters item", "trigger-one-dialect"],
    ["trigger-filters-not-a-list", "spec.filters written as a map", "schema"],
    ["trigger-dependency", "the subscriber indented under spec.filter", "destination"],
  ];
  for (const [example, what, rule] of refused) {
    it(`refuses ${example} (${what}), naming the file, the object and the rule`, async () => {
      const error = await refusal({ manifestsDir: folder([example]) });
      expect(error.problems.map((p) => p.rule)).toContain(rule);
      expect(error.message).toContain(`${example}/trigger.yaml`);
      expect(error.message).toContain("Trigger/my-service-trigger");
    });
  }
});

describe("Knative docs: getting started (first-source.md, first-trigger.md)", () => {
  it("without the Broker the tutorial makes with kn: the Trigger and the SinkBinding are not Ready", async () => {
    const runtime = await start(folder(["getting-started"]));
    expect(runtime.notReady.map((o) => `${o.object} ${o.condition} ${o.reason}`)).toEqual([
      "SinkBinding default/ce-player-binding SinkProvided NotFound",
      "Trigger default/cloudevents-trigger BrokerReady BrokerDoesNotExist",
    ]);
    expect(runtime.skippedServices).toEqual(["Service default/cloudevents-player"]);
  });

  it("with the Broker and the CloudEvents Player mapped, events posted to the Broker reach the player", async () => {
    const player = await subscriber();
    const dir = folder(["getting-started"], { "broker.yaml": knBroker("example-broker") });
    const runtime = await start(dir, [`cloudevents-player=${player.url}`]);
    expect(runtime.notReady).toEqual([]);
    expect((await postBinary(`${runtime.url}/default/example-broker`, { id: "player-1" })).status).toBe(202);
    await player.waitForEvent("player-1");
  });
});

describe("Knative docs: Using Sequence with Broker and Trigger (docs/versioned/eventing/flows/sequence/sequence-with-broker-trigger)", () => {
  it("runs the Broker, PingSource and display Trigger; the Sequence is not run and the Trigger to it is not Ready", async () => {
    const display = await subscriber();
    const runtime = await start(folder(["sequence-with-broker-trigger"]), [`sequence-display=${display.url}`]);
    expect(runtime.notRun).toEqual(["Sequence sequence"]);
    expect(runtime.skippedServices).toEqual([
      "Service default/first",
      "Service default/second",
      "Service default/third",
    ]);
    expect(runtime.notReady).toMatchObject([
      { object: "Trigger default/sequence-trigger", condition: "SubscriberResolved" },
    ]);
    expect(runtime.notReady[0]!.message).toMatch(/Sequence \(flows\.knative\.dev\/v1\) default\/sequence is not run/);
    const tick = await runtime.pings.fire("default", "ping-source");
    expect(tick.kind).toBe("delivered");
    await runtime.idle();
    expect(runtime.counters.delivered).toBe(0); // only the Sequence's Trigger wants a tick, and it is not Ready
    expect((await postBinary(`${runtime.url}/default/default`, { id: "mod3", type: "samples.http.mod3" })).status).toBe(
      202,
    );
    await display.waitForEvent("mod3");
  });
});

describe("knclaw dev --run NAME=COMMAND: a Service of the manifests started from a local command", () => {
  const server = join(import.meta.dirname, "fixtures", "local-service", "server.mjs");
  const command = `"${process.execPath}" "${server}"`;

  /** The getting-started folder with the Broker kn makes, the player run from `command`, and a Trigger of the test's own that sees what the player emits. */
  async function playerRuntime(watcher: Subscriber, options: Parameters<typeof startTestRuntime>[1] = {}) {
    const watch = `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: watch, namespace: default }\nspec:\n  broker: example-broker\n  filter: { attributes: { type: local.emitted } }\n  subscriber: { uri: "${watcher.url}" }\n`;
    const dir = folder(["getting-started"], { "broker.yaml": knBroker("example-broker"), "watch.yaml": watch });
    const runtime = await startTestRuntime("", {
      manifestsDir: dir,
      commands: parseServiceCommands([`cloudevents-player=${command}`]),
      ...options,
    });
    cleanup.push(() => runtime.shutdown());
    return runtime;
  }

  it("runs the getting-started CloudEvents Player: Trigger deliveries reach it, and it emits to K_SINK from its SinkBinding", async () => {
    const watcher = await subscriber();
    const runtime = await playerRuntime(watcher);
    expect(runtime.notReady).toEqual([]);
    expect(runtime.skippedServices).toEqual([]);
    const player = runtime.functions.find((fn) => fn.name === "cloudevents-player")!;
    expect(player.mounted.childUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const env = (await (await fetch(`${runtime.url}/functions/cloudevents-player/env`)).json()) as Record<
      string,
      string
    >;
    expect(env).toMatchObject({ K_SERVICE: "cloudevents-player", K_SINK: `${runtime.url}/default/example-broker` });
    expect(env.PORT).toBe(new URL(player.mounted.childUrl!).port);
    expect((await postBinary(`${runtime.url}/default/example-broker`, { id: "to-player" })).status).toBe(202);
    await runtime.idle();
    const events = (await (await fetch(`${runtime.url}/functions/cloudevents-player/events`)).json()) as string[];
    expect(events).toContain("to-player");
    expect(
      (await fetch(`${runtime.url}/functions/cloudevents-player/emit?id=from-player`, { method: "POST" })).status,
    ).toBe(202);
    await watcher.waitForEvent("from-player");
  });

  it("with OIDC on (knclaw dev's default), the command gets an identity token file for its sink, as a pod's projected token", async () => {
    const watcher = await subscriber();
    const runtime = await playerRuntime(watcher, { oidc: {} });
    const emit = (id: string) => fetch(`${runtime.url}/functions/cloudevents-player/emit?id=${id}`, { method: "POST" });
    expect((await emit("signed-in")).status).toBe(202);
    await watcher.waitForEvent("signed-in");
    // Without its token the Broker would refuse the player (401), as Knative's ingress refuses any sender then.
    const anonymous = await postBinary(`${runtime.url}/default/example-broker`, { id: "anonymous" });
    expect(anonymous.status).toBe(401);
  });

  it("refuses a --run for a Service that is not among the objects, or that is also mapped with --service", async () => {
    const dir = folder(["getting-started"]);
    for (const [options, message] of [
      [{ commands: parseServiceCommands([`ghost=${command}`]) }, /no Knative Service ghost/],
      [
        {
          commands: parseServiceCommands([`cloudevents-player=${command}`]),
          services: parseServiceMap(["cloudevents-player=http://127.0.0.1:9"]),
        },
        /also given a URL/,
      ],
    ] as const) {
      const error = await startFailure({ manifestsDir: dir, ...options });
      expect(error).toBeInstanceOf(InvalidObjectsError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it("refuses a --service for a Service that already runs here from its knclaw.dev/entry", async () => {
    const fn = `apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: probe\n  annotations: { knclaw.dev/entry: test/cli/dev/fixtures/probe/app.ts }\nspec:\n  template:\n    spec:\n      containers: [ { image: "ghcr.io/x/y:1" } ]\n`;
    const error = await refusal({
      manifestsDir: folder([], { "fn.yaml": fn }),
      services: parseServiceMap(["probe=http://127.0.0.1:9"]),
    });
    expect(error.problems).toMatchObject([{ rule: "service-url" }]);
  });

  it("a command that never listens fails the start, naming the Service", async () => {
    const error = await startFailure({
      manifestsDir: folder(["ping-source"]),
      commands: parseServiceCommands(["event-display=exit 3"]),
    });
    expect((error as Error).message).toMatch(
      /Service default\/event-display: process exited \(3\) before it was listening on \$PORT/,
    );
  });
});

describe("Knative docs: the Broker configuration example (broker-developer-config-options.md)", () => {
  it("admits a dead-letter sink in another namespace; the Broker is not Ready until that Service resolves", async () => {
    const sub = await subscriber();
    // The test's own Trigger on it: not Ready either, as its Broker is not.
    const trigger = `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: t, namespace: default }\nspec:\n  broker: default\n  subscriber: { uri: "${sub.url}" }\n`;
    const runtime = await start(folder(["broker-config"], { "trigger.yaml": trigger }));
    expect(runtime.notReady).toMatchObject([
      { object: "Broker default/default", condition: "DeadLetterSinkResolved", acting: true },
      { object: "Trigger default/t", condition: "BrokerReady", reason: "BrokerNotReady" },
    ]);
    // As on a cluster, its ingress takes the event, which reaches no Trigger.
    expect((await postBinary(`${runtime.url}/default/default`, { id: "x" })).status).toBe(202);
    await runtime.idle();
    expect(sub.received).toEqual([]);
  });

  it("with the dead-letter sink mapped, the Broker runs and dead-letters to it at uri example-uri", async () => {
    const sink = await subscriber();
    const refusing = await startSubscriber(() => ({ status: 400 }));
    cleanup.push(() => refusing.close());
    // The test's own Trigger: a subscriber that answers 400, which Knative does not retry, so the event is dead-lettered.
    const trigger = `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: refuses, namespace: default }\nspec:\n  broker: default\n  subscriber: { uri: "${refusing.url}" }\n`;
    const dir = folder(["broker-config"], { "trigger.yaml": trigger });
    const runtime = await start(dir, [`example-namespace/example-service=${sink.url}`]);
    expect(runtime.brokers.map((b) => `${b.namespace}/${b.name}`)).toEqual(["default/default"]);
    expect(runtime.notReady).toEqual([]);
    expect((await postBinary(`${runtime.url}/default/default`, { id: "dead" })).status).toBe(202);
    const dead = await sink.waitForEvent("dead");
    expect(dead.path).toBe("/example-uri");
    expect(dead.headers["ce-knativeerrorcode"]).toBe("400");
  });
});

describe("Knative docs: cross-namespace event links (blog, cross-namespace-event-links-feature.md)", () => {
  it("the folder's config-features enables brokerRef to another namespace; RBAC objects are listed as not run", async () => {
    const service = await subscriber();
    const dir = folder(["cross-namespace"], { "broker.yaml": knBroker("target-broker", "target-namespace") });
    const runtime = await start(dir, [`my-service=${service.url}`]);
    expect(runtime.notRun).toEqual([
      "ServiceAccount source-namespace/eventing-controller",
      "ClusterRole broker-subscriber",
      "ClusterRoleBinding eventing-controller-crossnamespace-subscriber",
    ]);
    expect(runtime.notReady).toEqual([]);
    expect(runtime.triggers).toMatchObject([
      { namespace: "source-namespace", name: "cross-namespace-trigger", brokerNamespace: "target-namespace" },
    ]);
    expect(describeRuntime(runtime).join("\n")).toContain(
      "source-namespace/cross-namespace-trigger  target-namespace/target-broker ->",
    );
    expect((await postBinary(`${runtime.url}/target-namespace/target-broker`, { id: "across" })).status).toBe(202);
    await service.waitForEvent("across");
  });

  it("a cross-namespace Trigger's deliveries are journaled under its namespace/name on a durable store", async () => {
    const service = await subscriber();
    const dir = folder(["cross-namespace"], { "broker.yaml": knBroker("target-broker", "target-namespace") });
    const state = mkdtempSync(join(tmpdir(), "knclaw-docs-state-"));
    cleanup.push(() => rmSync(state, { recursive: true, force: true }));
    const runtime = await start(dir, [`my-service=${service.url}`], {
      brokerStore: { kind: "sqlite", path: join(state, "broker.sqlite") },
    });
    expect((await postBinary(`${runtime.url}/target-namespace/target-broker`, { id: "durable" })).status).toBe(202);
    await service.waitForEvent("durable");
  });

  it("with the feature disabled on the command line, the webhook refuses brokerRef.namespace", async () => {
    const dir = folder(["cross-namespace"], { "broker.yaml": knBroker("target-broker", "target-namespace") });
    const error = await refusal({ manifestsDir: dir, crossNamespaceEventLinks: false });
    expect(error.problems).toMatchObject([{ path: "spec.brokerRef.namespace", rule: "trigger-broker-ref" }]);
  });
});

describe("knclaw validate --manifests: the same loader and rules as knclaw dev", () => {
  it("reports what would not be Ready and not run, and passes unless --strict", () => {
    const report = runValidateManifests({ manifests: join(DOCS, "ping-source") });
    expect(report.ok).toBe(true);
    expect(report.notReady.map((o) => o.object)).toEqual([
      "PingSource default/test-ping-source-binary",
      "PingSource default/test-ping-source",
    ]);
    const text = formatManifestsReport(report, "ping-source");
    expect(text).toContain("not Ready: PingSource default/test-ping-source: SinkProvided=False NotFound");
    expect(text).toMatch(/ping-source: 0 objects acting, 2 not Ready, 0 not run, 0 warnings$/);
    expect(runValidateManifests({ manifests: join(DOCS, "ping-source"), strict: true }).ok).toBe(false);
    const mapped = runValidateManifests({
      manifests: join(DOCS, "ping-source"),
      services: ["event-display=http://127.0.0.1:9"],
      strict: true,
    });
    expect(mapped.ok).toBe(true);
    expect(mapped.objects.pingSources).toHaveLength(2);
  });

  it("refuses the pages' mistakes with the rule knclaw dev names", () => {
    for (const [example, rule] of [
      ["trigger-two-dialects", "trigger-one-dialect"],
      ["trigger-filters-not-a-list", "schema"],
      ["trigger-dependency", "destination"],
    ] as const) {
      const report = runValidateManifests({ manifests: join(DOCS, example) });
      expect(report.ok).toBe(false);
      expect(report.problems.filter((p) => p.severity === "error").map((p) => p.rule)).toEqual([rule]);
      expect(formatManifestsReport(report, example)).toMatch(/refused \(1 error\)/);
    }
  });

  it("with a config, checks the folder together with what it renders, as knclaw dev -c FILE -m DIR runs them", () => {
    const report = runValidateManifests({
      manifests: join(DOCS, "sequence-with-broker-trigger"),
      config: join(import.meta.dirname, "..", "..", "..", "knative", "defaults", "knclaw.yaml"),
      services: ["sequence-display=http://127.0.0.1:9"],
    });
    expect(report.problems.filter((p) => p.severity === "error")).toEqual([]);
    expect(report.objects.brokers.map((b) => `${b.metadata.namespace}/${b.metadata.name}`)).toEqual([
      "knclaw/default",
      "default/default",
    ]);
    expect(report.notReady.map((o) => o.object)).toEqual(["Trigger default/sequence-trigger"]);
  });

  it("reads the folder's config-features, and lists the kinds knclaw dev does not run", () => {
    const report = runValidateManifests({ manifests: join(DOCS, "cross-namespace") });
    expect(report.problems.filter((p) => p.severity === "error")).toEqual([]);
    expect(report.notRun).toHaveLength(3);
    expect(report.notReady).toMatchObject([{ condition: "BrokerReady", reason: "BrokerDoesNotExist" }]);
    const off = runValidateManifests({ manifests: join(DOCS, "cross-namespace"), crossNamespaceEventLinks: false });
    expect(off.problems).toMatchObject([{ rule: "trigger-broker-ref", severity: "error" }]);
  });
});

describe("the knclaw dev command with a docs folder (a real process)", () => {
  it("takes --service, lists the mapping and what is not Ready, and delivers what knclaw send posts", async () => {
    const service = await subscriber();
    const dir = folder(["trigger-service-path", "ping-source"], { "broker.yaml": knBroker("default") });
    const dev = spawnKnclaw(
      ["dev", "--no-config", "-m", dir, "--service", `my-service=${service.url}`, "--port", "0", "--log-level", "warn"],
      { ...process.env, PORT: "" },
    );
    cleanup.push(async () => {
      dev.kill("SIGTERM");
      await exited(dev);
    });
    const output = collectOutput(dev);
    // The listing is one write: wait for its last section.
    const [, url] = await waitForOutput(
      dev,
      /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*PingSource default\/test-ping-source {2}SinkProvided=False/,
    );
    expect(output.stdout).toContain(`(any namespace)/my-service -> ${service.url}`);
    expect(output.stdout).toContain(
      "Services not run (no knclaw.dev/entry annotation; map one with --service NAME=URL):",
    );
    const send = spawnKnclaw(["send", "--url", url!, "--broker", "default/default", "--type", "x", "--id", "cli-1"], {
      ...process.env,
      PORT: "",
    });
    expect(await exited(send)).toBe(0);
    expect((await service.waitForEvent("cli-1")).path).toBe("/my-custom-path");
  });
});

describe("the knclaw validate command with --manifests", () => {
  async function validate(args: string[]): Promise<{ exitCode: number | undefined; out: string; err: string }> {
    const program = new Command().exitOverride();
    registerValidateCommand(program);
    const out = vi.spyOn(console, "log").mockImplementation(() => {});
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const before = process.exitCode;
    try {
      await program.parseAsync(["node", "knclaw", "validate", ...args]);
      return {
        exitCode: process.exitCode === before ? undefined : (process.exitCode as number),
        out: out.mock.calls.join("\n"),
        err: err.mock.calls.join("\n"),
      };
    } finally {
      process.exitCode = before;
      out.mockRestore();
      err.mockRestore();
    }
  }

  it("checks the folder alone (no config unless -c is given), passes --service and --run, exits 1 on a refusal", async () => {
    const ok = await validate([
      "--manifests",
      join(DOCS, "ping-source"),
      "--service",
      "event-display=http://127.0.0.1:9",
    ]);
    expect(ok.exitCode).toBeUndefined();
    expect(ok.out).toMatch(/2 objects acting, 0 not Ready, 0 not run/);
    const run = await validate(["-m", join(DOCS, "getting-started"), "--run", "cloudevents-player=./player"]);
    expect(run.out).toContain("not Ready: Trigger default/cloudevents-trigger: BrokerReady=False BrokerDoesNotExist");
    const strict = await validate(["-m", join(DOCS, "ping-source"), "--strict"]);
    expect(strict.exitCode).toBe(1);
    expect(strict.err).toContain("SinkProvided=False");
    const refused = await validate(["-m", join(DOCS, "trigger-two-dialects")]);
    expect(refused.exitCode).toBe(1);
    expect(refused.err).toMatch(/trigger-one-dialect[\s\S]*refused \(1 error\)/);
    const features = await validate(["-m", join(DOCS, "cross-namespace"), "--cross-namespace-event-links", "disabled"]);
    expect(features.exitCode).toBe(1);
    expect(features.err).toContain("trigger-broker-ref");
  });
});

describe("--service NAME=URL", () => {
  it("refuses what cannot be a local Service's address, never echoing credentials", () => {
    for (const bad of ["noequals", "=http://x", "Bad_Name=http://x", "a/b/c=http://x", "x=ftp://h", "x=not a url"]) {
      expect(() => parseServiceMap([bad])).toThrow(ServiceMapError);
    }
    expect(() => parseServiceMap(["x=http://user:s3cret@h/"])).toThrow(/must not carry credentials/);
    try {
      parseServiceMap(["x=http://user:s3cret@h/"]);
    } catch (error) {
      expect((error as Error).message).not.toContain("s3cret");
    }
    expect(() => parseServiceMap(["x=http://h", "x=http://g"])).toThrow(/given twice/);
  });

  it("env values naming a mapped Service's cluster address are rewritten to its URL", () => {
    const rewrite = clusterUrlRewriter(
      "http://127.0.0.1:8080",
      new Set(["default/fn"]),
      parseServiceMap(["db=http://127.0.0.1:5000"]),
    );
    expect(rewrite("http://db.default.svc.cluster.local/api")).toBe("http://127.0.0.1:5000/api");
    expect(rewrite("http://fn.default.svc.cluster.local/x")).toBe("http://127.0.0.1:8080/functions/fn/x");
    expect(rewrite("http://other.default.svc.cluster.local/")).toBe("http://other.default.svc.cluster.local/");
  });

  it("a namespaced mapping wins over a name alone", () => {
    const map = parseServiceMap(["svc=http://any:1/", "team/svc=http://team:2"]);
    expect(map.lookup("team", "svc")).toBe("http://team:2");
    expect(map.lookup("other", "svc")).toBe("http://any:1");
    expect(map.lookup("team", "nope")).toBeUndefined();
  });
});
