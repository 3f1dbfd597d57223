import { describe, expect, it } from "vitest";
import { InvalidObjectsError } from "../../../cli/dev/start-dev.ts";
import { startTestRuntime, testResources } from "../../support/dev-platform.ts";

/** docs/knative-semantics.md, "PingSource", over HTTP: PingSource -> Broker -> Trigger -> test server. */
describe("PingSource", () => {
  const { subscriberWith, runtimeWith } = testResources();

  function yaml(
    subscriber: string,
    pingSpec: string,
    sink = "{ ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } }",
  ): string {
    return `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: pings, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: dev.knative.sources.ping } }
  subscriber: { uri: "${subscriber}" }
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: { name: heartbeat, namespace: test }
spec:
  sink: ${sink}
${pingSpec}`;
  }

  it("each tick emits one event with Knative's ping attributes, data and ceOverrides", async () => {
    const sub = await subscriberWith();
    const now = new Date("2030-05-06T07:08:09.000Z");
    const runtime = await runtimeWith(
      yaml(
        sub.url,
        `  schedule: "*/5 * * * *"
  contentType: application/json
  data: '{"task":"check the queue"}'
  ceOverrides: { extensions: { knclawinstance: ops, knclawschedule: heartbeat } }`,
      ),
      { now: () => now },
    );
    const outcome = await runtime.pings.fire("test", "heartbeat");
    expect(outcome.kind).toBe("delivered");
    const [got] = await sub.waitFor(1);
    expect(got!.headers["ce-type"]).toBe("dev.knative.sources.ping");
    expect(got!.headers["ce-source"]).toBe("/apis/v1/namespaces/test/pingsources/heartbeat");
    expect(got!.headers["ce-specversion"]).toBe("1.0");
    expect(got!.headers["ce-time"]).toBe("2030-05-06T07:08:09.000Z");
    expect(got!.headers["content-type"]).toBe("application/json");
    expect(got!.headers["ce-knclawinstance"]).toBe("ops");
    expect(got!.headers["ce-knclawschedule"]).toBe("heartbeat");
    expect(got!.body.toString()).toBe('{"task":"check the queue"}');
  });

  it("every tick gets a fresh id", async () => {
    const sub = await subscriberWith();
    const runtime = await runtimeWith(yaml(sub.url, ""));
    await runtime.pings.fire("test", "heartbeat");
    await runtime.pings.fire("test", "heartbeat");
    const [a, b] = await sub.waitFor(2);
    expect(a!.headers["ce-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(a!.headers["ce-id"]).not.toBe(b!.headers["ce-id"]);
  });

  it("dataBase64 is decoded and sent as bytes", async () => {
    const sub = await subscriberWith();
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
    const runtime = await runtimeWith(
      yaml(sub.url, `  contentType: application/octet-stream\n  dataBase64: ${bytes.toString("base64")}`),
    );
    await runtime.pings.fire("test", "heartbeat");
    const [got] = await sub.waitFor(1);
    expect([...got!.body]).toEqual([...bytes]);
    expect(got!.headers["content-type"]).toBe("application/octet-stream");
  });

  it("the schedule defaults to every minute and is read in the given time zone", async () => {
    const sub = await subscriberWith();
    const runtime = await runtimeWith(
      `${yaml(sub.url, "")}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: { name: tokyo, namespace: test }
spec:
  schedule: "0 9 * * *"
  timezone: Asia/Tokyo
  sink: { uri: "${sub.url}" }`,
    );
    const heartbeat = runtime.pingSources.find((p) => p.name === "heartbeat")!;
    expect(heartbeat.schedule.pattern).toBe("0 * * * * *");
    const next = runtime.pings.nextRun("test", "tokyo")!;
    // 09:00 in Tokyo is 00:00 UTC.
    expect(next.getUTCHours()).toBe(0);
    expect(next.getUTCMinutes()).toBe(0);
    const minute = runtime.pings.nextRun("test", "heartbeat")!;
    expect(minute.getUTCSeconds()).toBe(0);
    expect(minute.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it("fires on its real schedule (seconds field) without anyone calling fire", async () => {
    const sub = await subscriberWith();
    await runtimeWith(yaml(sub.url, '  schedule: "* * * * * *"'), { schedulePings: true });
    const [got] = await sub.waitFor(1);
    expect(got!.headers["ce-type"]).toBe("dev.knative.sources.ping");
  });

  it("sends are retried: 5 retries, exponential from 50 ms", async () => {
    const sink = await subscriberWith((_r, index) => ({ status: index < 2 ? 503 : 202 }));
    const runtime = await runtimeWith(yaml(sink.url, "", `{ uri: "${sink.url}/direct" }`));
    const outcome = await runtime.pings.fire("test", "heartbeat");
    expect(outcome).toMatchObject({ kind: "delivered", attempts: 3 });
    expect(sink.received[1]!.at - sink.received[0]!.at).toBeGreaterThanOrEqual(49);
    expect(sink.received[2]!.at - sink.received[1]!.at).toBeGreaterThanOrEqual(99);

    const down = await subscriberWith(() => ({ status: 503 }));
    const failing = await runtimeWith(yaml(down.url, "", `{ uri: "${down.url}/direct" }`));
    const failed = await failing.pings.fire("test", "heartbeat");
    expect(failed).toMatchObject({ kind: "dropped", attempts: 6 });
    expect(down.received).toHaveLength(6);
    expect(failing.pings.counters).toMatchObject({ ticks: 1, sent: 0, failed: 1 });
  });

  const invalid: Array<[string, string, string]> = [
    ["@every schedules", '  schedule: "@every 1m"', "cron-every"],
    ["a malformed schedule", '  schedule: "61 * * * *"', "cron-syntax"],
    ["an unknown time zone", "  timezone: Mars/Olympus", "timezone"],
    ["data and dataBase64 together", "  data: hi\n  dataBase64: aGk=", "data"],
    ["application/json data that is not a JSON object", '  contentType: application/json\n  data: "[1,2]"', "data"],
  ];
  for (const [name, spec, rule] of invalid) {
    it(`refuses ${name}, naming the PingSource and the rule`, async () => {
      const error = await startTestRuntime(yaml("http://127.0.0.1:9", spec)).then(
        async (runtime) => {
          await runtime.shutdown();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidObjectsError);
      expect((error as Error).message).toContain("PingSource/test/heartbeat");
      expect((error as Error).message).toContain(rule);
    });
  }
});
