import { Agent, request } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevRuntime } from "../../../cli/dev/start-dev.ts";
import {
  brokerWithTrigger,
  postBinary,
  type Subscriber,
  startSubscriber,
  startTestRuntime,
} from "../../support/dev-platform.ts";

/**
 * Property: whatever arrives at the ingress (random methods, paths, headers, bodies), the answer is a clear
 * non-5xx status, the process keeps serving, and memory stays bounded.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<number> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ agent, hostname: target.hostname, port: target.port, method, path, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body.byteLength > 0 ? body : undefined);
  });
}

const latin1 = fc
  .integer({ min: 0x20, max: 0xff })
  .filter((c) => c !== 0x7f)
  .map((c) => String.fromCharCode(c));
const headerValue = fc.oneof(
  fc.string({ unit: latin1, maxLength: 40 }),
  fc.constantFrom(
    "1.0",
    "0.3",
    "",
    "%",
    "%zz",
    "%C3%A9",
    "%FF",
    "a%20b",
    "/src",
    "urn:x",
    "2024-01-01T00:00:00Z",
    "255",
    "0",
  ),
);
const ceName = fc.oneof(
  fc.constantFrom(
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "dataschema",
    "knativebrokerttl",
    "knativearrivaltime",
  ),
  fc.stringMatching(/^[a-z0-9_]{1,12}$/),
);
const contentType = fc.oneof(
  fc.constantFrom(
    "application/json",
    "application/cloudevents+json",
    "APPLICATION/CLOUDEVENTS+JSON; charset=utf-8",
    "application/cloudevents-batch+json",
    "application/cloudevents+xml",
    "text/plain",
    "",
    "garbage",
  ),
  fc.string({ unit: latin1, maxLength: 20 }),
);
const jsonBody = fc
  .record(
    {
      specversion: fc.oneof(fc.constant("1.0"), fc.constant("0.3"), fc.string()),
      id: fc.oneof(fc.string(), fc.integer()),
      source: fc.string(),
      type: fc.string(),
      data: fc.jsonValue(),
      data_base64: fc.string(),
      extra: fc.jsonValue(),
    },
    { requiredKeys: [] },
  )
  .map((value) => new TextEncoder().encode(JSON.stringify(value)));
const body = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  jsonBody,
  fc.string().map((s) => new TextEncoder().encode(s)),
  fc.constant(new Uint8Array(0)),
);
const path = fc.oneof(
  fc.constant("/test/default"),
  fc.constant("/test/default/"),
  fc.constantFrom("/", "/test", "/test/nope", "/a/b/c", "//", "/%zz/%ff", "/test/default?x=1"),
  fc.array(fc.stringMatching(/^[A-Za-z0-9%._~-]{0,8}$/), { maxLength: 4 }).map((parts) => `/${parts.join("/")}`),
);
/** Mostly-valid binary events with random extensions, so the accepting path is fuzzed too. */
const nearlyValidCe = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/),
    fc.dictionary(fc.stringMatching(/^[a-z0-9]{1,10}$/), fc.oneof(headerValue, fc.stringMatching(/^[!-~]{0,20}$/)), {
      maxKeys: 4,
    }),
  )
  .map(([id, extensions]) => ({ ...extensions, specversion: "1.0", id, source: "/fuzz", type: "fuzz" }));
const requestArb = fc.record({
  method: fc.constantFrom("POST", "POST", "POST", "POST", "GET", "OPTIONS", "PUT", "DELETE"),
  path,
  ce: fc.oneof(fc.dictionary(ceName, headerValue, { maxKeys: 8 }), nearlyValidCe),
  contentType: fc.option(contentType, { nil: undefined }),
  extra: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), headerValue, { maxKeys: 3 }),
  body,
});

describe("ingress fuzzing", () => {
  let runtime: DevRuntime;
  let subscriber: Subscriber;

  beforeAll(async () => {
    subscriber = await startSubscriber();
    runtime = await startTestRuntime(brokerWithTrigger(subscriber.url, "  delivery: { retry: 0 }"));
  });
  afterAll(async () => {
    agent.destroy();
    await runtime.shutdown();
    await subscriber.close();
  });

  it("random headers and bodies never crash it, never get a 5xx, and memory stays bounded", async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (input) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(input.extra)) headers[name] = value;
        for (const [name, value] of Object.entries(input.ce)) headers[`ce-${name}`] = value;
        if (input.contentType !== undefined) headers["content-type"] = input.contentType;
        const status = await send(runtime.url, input.method, input.path, headers, input.body);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(status).toBeGreaterThanOrEqual(200);
        expect(status).toBeLessThan(500);
      }),
      { numRuns: 1000, seed: 20261121 },
    );
    await runtime.idle();
    expect(runtime.brokers[0]!.broker.pending).toBe(0);
    // Some inputs were valid events and some were not: the property covered both sides.
    expect(statuses.get(202) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    // Still healthy: a valid event goes through end to end.
    expect((await postBinary(`${runtime.url}/test/default`, { id: "after-fuzz" })).status).toBe(202);
    await subscriber.waitForEvent("after-fuzz");
  });
});
