import { describe, expect, it } from "vitest";
import { silentLog } from "../../../eventing/broker/log.ts";
import { postBinary, testResources } from "../../support/dev-platform.ts";

/** docs/knative-semantics.md, "Replies", over HTTP. */
describe("replies", () => {
  const { subscriberWith, runtimeWith } = testResources();

  function yaml(triggers: Array<{ name: string; uri: string; spec?: string }>, broker = ""): string {
    return [
      `apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: default, namespace: test }\n${broker}`,
      ...triggers.map(
        (t) =>
          `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: ${t.name}, namespace: test }\nspec:\n  broker: default\n  subscriber: { uri: "${t.uri}" }\n${t.spec ?? ""}`,
      ),
    ].join("\n---\n");
  }

  const replyHeaders = (id: string, type: string, extra: Record<string, string> = {}) => ({
    "ce-specversion": "1.0",
    "ce-id": id,
    "ce-source": "/replier",
    "ce-type": type,
    "content-type": "application/json",
    ...extra,
  });

  it("a 2xx carrying a binary CloudEvent is a reply, ingested as a new arrival and routed by all Triggers", async () => {
    const replier = await subscriberWith((request) =>
      request.headers["ce-type"] === "question"
        ? {
            status: 200,
            headers: replyHeaders("answer-1", "answer", { "x-request-id": "from-reply" }),
            body: '{"answer":42}',
          }
        : { status: 200 },
    );
    const answers = await subscriberWith();
    const runtime = await runtimeWith(
      yaml([
        { name: "asker", uri: replier.url, spec: "  filter: { attributes: { type: question } }" },
        { name: "listener", uri: answers.url, spec: "  filter: { attributes: { type: answer } }" },
      ]),
    );
    expect((await postBinary(`${runtime.url}/test/default`, { id: "q1", type: "question" })).status).toBe(202);
    const original = await replier.waitForEvent("q1");
    const answer = await answers.waitForEvent("answer-1");
    expect(answer.body.toString()).toBe('{"answer":42}');
    expect(answer.headers["ce-source"]).toBe("/replier");
    // A new arrival: its own knativearrivaltime, no later than now and not before the original's.
    const originalArrival = Date.parse(String(original.headers["ce-knativearrivaltime"]));
    const replyArrival = Date.parse(String(answer.headers["ce-knativearrivaltime"]));
    expect(replyArrival).toBeGreaterThanOrEqual(originalArrival);
    expect(answer.headers["ce-knativebrokerttl"]).toBeUndefined();
    // Pass-through headers of the reply travel with it.
    expect(answer.headers["x-request-id"]).toBe("from-reply");
    await runtime.idle();
    expect(runtime.counters).toMatchObject({ replies: 1, delivered: 2 });
  });

  it("a 202 carrying a structured CloudEvent is a reply too (Knative's dispatcher, not the spec's 202 rule)", async () => {
    const replier = await subscriberWith((request) =>
      request.headers["ce-type"] === "question"
        ? {
            status: 202,
            headers: { "content-type": "application/cloudevents+json" },
            body: JSON.stringify({ specversion: "1.0", id: "answer-s", source: "/r", type: "answer", data: { ok: 1 } }),
          }
        : { status: 202 },
    );
    const answers = await subscriberWith();
    const runtime = await runtimeWith(
      yaml([
        { name: "asker", uri: replier.url, spec: "  filter: { attributes: { type: question } }" },
        { name: "listener", uri: answers.url, spec: "  filter: { attributes: { type: answer } }" },
      ]),
    );
    await postBinary(`${runtime.url}/test/default`, { id: "q2", type: "question" });
    const answer = await answers.waitForEvent("answer-s");
    expect(JSON.parse(answer.body.toString())).toEqual({ ok: 1 });
  });

  it("a reply no Trigger matches is dropped, as Knative does, but logged with the Trigger that got it and its attributes", async () => {
    const replier = await subscriberWith((request) =>
      request.headers["ce-type"] === "dev.knclaw.tool.requested"
        ? {
            status: 200,
            headers: replyHeaders("answer-u", "dev.knclaw.tool.completed", { "ce-knclawskill": "search" }),
            body: '{"secret":"never logged"}',
          }
        : { status: 200 },
    );
    const results = await subscriberWith();
    const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const log = {
      ...silentLog,
      warn: (fields: object, message: string) => warnings.push({ fields: fields as Record<string, unknown>, message }),
    };
    const runtime = await runtimeWith(
      yaml([
        {
          name: "skill-search",
          uri: replier.url,
          spec: "  filter: { attributes: { type: dev.knclaw.tool.requested } }",
        },
        {
          name: "agent-ops-tool-completed",
          uri: results.url,
          spec: "  filter: { attributes: { type: dev.knclaw.tool.completed, knclawinstance: ops } }",
        },
      ]),
      { log },
    );
    expect(
      (await postBinary(`${runtime.url}/test/default`, { id: "call-1", type: "dev.knclaw.tool.requested" })).status,
    ).toBe(202);
    await replier.waitForEvent("call-1");
    await runtime.idle();
    expect(runtime.counters).toMatchObject({ unmatched: 1, replies: 1, delivered: 1 });
    expect(results.received).toEqual([]);
    const dropped = warnings.filter((w) => w.message.startsWith("reply dropped"));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.message).toContain("knclawinstance");
    expect(dropped[0]!.fields).toMatchObject({
      broker: "test/default",
      trigger: "skill-search",
      attributes: { id: "answer-u", type: "dev.knclaw.tool.completed", knclawskill: "search" },
    });
    expect(JSON.stringify(dropped[0]!.fields)).not.toContain("never logged");
    // An event posted to the ingress that nothing wants is not a reply: Knative's silence.
    await postBinary(`${runtime.url}/test/default`, { id: "nobody", type: "unwanted" });
    await runtime.idle();
    expect(warnings.filter((w) => w.message.startsWith("reply dropped"))).toHaveLength(1);
  });

  it("a reply is evaluated against every Trigger, including the one that produced it", async () => {
    const sub = await subscriberWith((request) =>
      request.headers["ce-type"] === "step.1"
        ? { status: 200, headers: replyHeaders("step-2", "step.2") }
        : { status: 200 },
    );
    const runtime = await runtimeWith(
      yaml([{ name: "steps", uri: sub.url, spec: '  filters: [ { prefix: { type: "step." } } ]' }]),
    );
    await postBinary(`${runtime.url}/test/default`, { id: "step-1", type: "step.1" });
    await sub.waitForEvent("step-2");
    await runtime.idle();
    expect(sub.received.map((r) => r.headers["ce-id"])).toEqual(["step-1", "step-2"]);
  });

  it("TTL is carried into replies and decremented, so a reply loop ends; the refused reply fails the delivery (400, not retried)", async () => {
    const looper = await subscriberWith((request) => ({
      status: 200,
      headers: replyHeaders(`${request.headers["ce-id"]}+`, "loop"),
    }));
    const dls = await subscriberWith();
    const runtime = await runtimeWith(
      yaml([
        { name: "loop", uri: looper.url, spec: `  delivery: { retry: 3, deadLetterSink: { uri: "${dls.url}" } }` },
      ]),
    );
    await postBinary(`${runtime.url}/test/default`, { id: "x", type: "loop", extra: { knativebrokerttl: "5" } });
    // The delivery whose reply was refused is the one dead-lettered: the event "x+++".
    const dead = await dls.waitForEvent("x+++");
    await runtime.idle();
    // TTL 5 -> 4 at ingress; deliveries carry 4, 3, 2, 1; the reply to the last one arrives with 1 -> 0: refused.
    expect(looper.received.map((r) => r.headers["ce-id"])).toEqual(["x", "x+", "x++", "x+++"]);
    expect(dead.headers["ce-knativeerrorcode"]).toBe("400");
    expect(dead.headers["ce-knativeerrordest"]).toBe(
      "http://broker-ingress.knative-eventing.svc.cluster.local/test/default",
    );
    expect(runtime.counters).toMatchObject({ replies: 3, deadLettered: 1 });
  });

  it("a reply that cannot be enqueued fails the original delivery, which is retried", async () => {
    const sub = await subscriberWith((request) =>
      request.headers["ce-type"] === "work"
        ? { status: 200, headers: replyHeaders("more-work", "more") }
        : { status: 200 },
    );
    const dls = await subscriberWith();
    const runtime = await runtimeWith(
      yaml([
        {
          name: "worker",
          uri: sub.url,
          spec: `  filter: { attributes: { type: work } }\n  delivery: { retry: 2, deadLetterSink: { uri: "${dls.url}" } }`,
        },
        { name: "more", uri: sub.url, spec: "  filter: { attributes: { type: more } }" },
      ]),
      // One pending delivery at a time: while the original is in flight its reply has no room (429).
      { broker: { maxPendingDeliveries: 1 } },
    );
    await postBinary(`${runtime.url}/test/default`, { id: "w1", type: "work" });
    const dead = await dls.waitForEvent("w1");
    await runtime.idle();
    expect(sub.received.filter((r) => r.headers["ce-id"] === "w1")).toHaveLength(3);
    expect(dead.headers["ce-knativeerrorcode"]).toBe("429");
    expect(runtime.counters).toMatchObject({ retried: 2, deadLettered: 1, replies: 0 });
  });

  it("a 2xx carrying an invalid CloudEvent fails (502) and is retried", async () => {
    const sub = await subscriberWith((_r, index) =>
      index === 0
        ? { status: 200, headers: { "ce-specversion": "1.0", "ce-source": "/r", "ce-type": "t" } }
        : { status: 200 },
    );
    const runtime = await runtimeWith(yaml([{ name: "t", uri: sub.url, spec: "  delivery: { retry: 1 }" }]));
    await postBinary(`${runtime.url}/test/default`, { id: "invalid-reply" });
    await sub.waitFor(2);
    await runtime.idle();
    expect(runtime.counters).toMatchObject({ delivered: 1, retried: 1, replies: 0 });
  });
});
