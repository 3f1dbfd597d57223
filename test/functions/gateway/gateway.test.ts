import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import {
  actAsAgent,
  approvalRequested,
  approvalResolved,
  auth,
  completed,
  failed,
  type GatewayHarness,
  OTHER_TOKEN,
  said,
  startGateway,
} from "./support/harness.ts";

let h: GatewayHarness;

beforeAll(async () => {
  // This suite makes more requests per token than the default burst; rate limits have their own suite (limits.test.ts).
  h = await startGateway({ KNCLAW_GATEWAY_RATE_LIMIT: JSON.stringify({ requestsPerMinute: 6000, burst: 1000 }) });
});
afterAll(async () => {
  await h.stop();
});
beforeEach(() => {
  h.broker.events.length = 0;
  h.broker.failures.length = 0;
  h.broker.onEvent = undefined;
});

async function startRun(body: unknown = { task: "check the disks" }, headers: Record<string, string> = {}) {
  return fetch(`${h.url}/api/v1/instances/ops/runs`, {
    method: "POST",
    headers: { ...auth(), ...headers },
    body: JSON.stringify(body),
  });
}

/** Read an SSE response until it ends; returns the events. */
async function readSse(response: Response): Promise<Array<{ id?: string; event?: string; data: string }>> {
  const text = await response.text();
  const events: Array<{ id?: string; event?: string; data: string }> = [];
  for (const block of text.split("\n\n")) {
    const lines = block.split("\n").filter((l) => l !== "" && !l.startsWith(":"));
    if (lines.length === 0) continue;
    const event: { id?: string; event?: string; data: string } = { data: "" };
    for (const line of lines) {
      const [field, ...rest] = line.split(": ");
      const value = rest.join(": ");
      if (field === "id") event.id = value;
      else if (field === "event") event.event = value;
      else if (field === "data") event.data = event.data ? `${event.data}\n${value}` : value;
    }
    events.push(event);
  }
  return events;
}

describe("gateway authentication", () => {
  it("refuses missing and wrong bearer tokens with 401 and tokens in URLs with 400", async () => {
    const none = await fetch(`${h.url}/api/v1/runs/x`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect((await fetch(`${h.url}/api/v1/runs/x`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    expect((await fetch(`${h.url}/api/v1/runs/x`, { headers: { authorization: "Basic abc" } })).status).toBe(401);
    expect((await fetch(`${h.url}/api/v1/runs/x?access_token=${OTHER_TOKEN}`)).status).toBe(400);
    expect((await fetch(`${h.url}/v1/models?api_key=${OTHER_TOKEN}`, { headers: auth() })).status).toBe(400);
    const models = await fetch(`${h.url}/v1/models`, { headers: auth(OTHER_TOKEN) });
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual([
      "knclaw:dev",
      "knclaw:ops",
    ]);
    expect(h.broker.events).toHaveLength(0);
  });

  it("keeps CORS closed: no preflight, no Access-Control headers", async () => {
    const preflight = await fetch(`${h.url}/api/v1/runs/x`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    const get = await fetch(`${h.url}/v1/models`, { headers: { ...auth(), origin: "https://evil.example" } });
    expect(get.status).toBe(200);
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("runs API", () => {
  it("starts a run: 202 + run id, run.requested with an http reply route and the caller's token name", async () => {
    const response = await startRun({ task: "check the disks", input: { host: "db-1" }, sessionKey: "s1" });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { runId: string; status: string };
    expect(body.status).toBe("queued");
    expect(response.headers.get("location")).toBe(`/api/v1/runs/${body.runId}`);
    const data = readEvent((await h.broker.waitForEvents(1))[0]!, T.RUN_REQUESTED);
    expect(data).toEqual({
      instance: "ops",
      runId: body.runId,
      task: "check the disks",
      input: { host: "db-1" },
      sessionKey: "s1",
      requestedBy: { channel: "http", id: "admin" },
      replyTo: { channel: "http", conversation: body.runId },
    });
  });

  it("starts one run per Idempotency-Key however often the request is retried", async () => {
    const first = (await (await startRun(undefined, { "idempotency-key": "job-42" })).json()) as { runId: string };
    const second = (await (await startRun(undefined, { "idempotency-key": "job-42" })).json()) as { runId: string };
    expect(second.runId).toBe(first.runId);
    expect(h.broker.ofType(T.RUN_REQUESTED)).toHaveLength(1);
  });

  it("answers a broker outage with 503 and a retry with the same key emits once", async () => {
    h.broker.failures.push(503, 503, 503, 503);
    expect((await startRun(undefined, { "idempotency-key": "job-43" })).status).toBe(503);
    expect((await startRun(undefined, { "idempotency-key": "job-43" })).status).toBe(202);
    expect(h.broker.ofType(T.RUN_REQUESTED)).toHaveLength(1);
  });

  it("refuses bad input: unknown instance 404, malformed 400, unknown fields 400, oversized 413", async () => {
    const post = (path: string, body: string) => fetch(`${h.url}${path}`, { method: "POST", headers: auth(), body });
    expect((await post("/api/v1/instances/nope/runs", '{"task":"x"}')).status).toBe(404);
    expect((await post("/api/v1/instances/ops/runs", "{not json")).status).toBe(400);
    expect((await post("/api/v1/instances/ops/runs", '{"task":""}')).status).toBe(400);
    expect((await post("/api/v1/instances/ops/runs", '{"task":"x","evil":true}')).status).toBe(400);
    expect(
      (await post("/api/v1/instances/ops/runs", JSON.stringify({ task: "x".repeat(2 * 1024 * 1024) }))).status,
    ).toBe(413);
    expect((await post("/api/v1/approvals/x", '{"decision":"maybe"}')).status).toBe(400);
    expect(h.broker.events).toHaveLength(0);
  });

  it("with Prefer: wait=N answers the outcome inline when the run finishes in time", async () => {
    actAsAgent(h, (runId, instance, task) => [completed(runId, instance, `done: ${task}`)]);
    const response = await startRun({ task: "quick" }, { prefer: "wait=30" });
    expect(response.status).toBe(200);
    expect(response.headers.get("preference-applied")).toBe("wait=30");
    const body = (await response.json()) as { status: string; output: string; usage: unknown };
    expect(body).toMatchObject({
      status: "completed",
      output: "done: quick",
      usage: { inputTokens: 12, outputTokens: 5 },
    });
  });

  it("with Prefer: wait=N answers 202 when the run is not done in time, and GET shows the outcome later", async () => {
    const response = await startRun({ task: "slow" }, { prefer: "wait=1" });
    expect(response.status).toBe(202);
    const { runId } = (await response.json()) as { runId: string };
    const get = () =>
      fetch(`${h.url}/api/v1/runs/${runId}`, { headers: auth() }).then(
        (r) => r.json() as Promise<{ status: string; reason?: string }>,
      );
    expect((await get()).status).toBe("queued");
    expect((await h.deliver(failed(runId, "ops", "max_turns", "gave up"))).status).toBe(200);
    expect(await get()).toMatchObject({ status: "failed", reason: "max_turns" });
    expect((await fetch(`${h.url}/api/v1/runs/unknown-run`, { headers: auth() })).status).toBe(404);
  });

  it("streams a run's events over SSE and resumes after Last-Event-ID", async () => {
    const { runId } = (await (await startRun({ task: "explain" })).json()) as { runId: string };
    await h.deliver(said(runId, "ops", "Looking…", "m1"));
    await h.deliver(said(runId, "ops", "Looking…", "m1"));
    await h.deliver(approvalRequested(runId, "ops", "ap-sse"));
    const stream = fetch(`${h.url}/api/v1/runs/${runId}/events`, { headers: auth() });
    await h.deliver(completed(runId, "ops", "All good."));
    const events = await readSse(await stream);
    expect(events.map((e) => [e.id, e.event])).toEqual([
      ["1", "message"],
      ["2", "approval"],
      ["3", "completed"],
    ]);
    expect(JSON.parse(events[0]!.data)).toMatchObject({ text: "Looking…" });
    expect(JSON.parse(events[2]!.data)).toMatchObject({ output: "All good." });
    const resumed = await readSse(
      await fetch(`${h.url}/api/v1/runs/${runId}/events`, { headers: { ...auth(), "last-event-id": "1" } }),
    );
    expect(resumed.map((e) => e.id)).toEqual(["2", "3"]);
    const bad = await fetch(`${h.url}/api/v1/runs/${runId}/events`, { headers: { ...auth(), "last-event-id": "abc" } });
    expect(bad.status).toBe(400);
  });

  it("delivers events to a live stream as they come and ends it with the outcome", async () => {
    const { runId } = (await (await startRun({ task: "live" })).json()) as { runId: string };
    const response = await fetch(`${h.url}/api/v1/runs/${runId}/events`, { headers: auth() });
    const reader = response.body!.getReader();
    await h.deliver(said(runId, "ops", "first"));
    let text = "";
    while (!text.includes("first")) text += new TextDecoder().decode((await reader.read()).value);
    await h.deliver(completed(runId, "ops", "end"));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain("event: completed");
  });

  const decide = (id: string, body: unknown, token?: string) =>
    fetch(`${h.url}/api/v1/approvals/${id}`, { method: "POST", headers: auth(token), body: JSON.stringify(body) });
  const decisions = () => h.broker.ofType(T.APPROVAL_DECIDED);
  const approval = async (id: string, token?: string) =>
    (await (await fetch(`${h.url}/api/v1/approvals/${id}`, { headers: auth(token) })).json()) as Record<
      string,
      unknown
    >;

  it("decides as the token it authenticated: a non-approver gets 403, the approver's decision goes once, 409 after", async () => {
    const { runId } = (await (await startRun({ task: "delete" })).json()) as { runId: string };
    await h.deliver(approvalRequested(runId, "ops", "ap-1"));
    // The API says, per approval, whether the calling token may decide it (the console shows its buttons by this).
    expect(await approval("ap-1")).toMatchObject({ approvalId: "ap-1", runId, status: "open", mayDecide: true });
    expect(await approval("ap-1", OTHER_TOKEN)).toMatchObject({ status: "open", mayDecide: false });
    expect((await fetch(`${h.url}/api/v1/approvals/nope`, { headers: auth() })).status).toBe(404);
    // Only http:admin may approve: the ci token is turned away and nothing reaches the agent.
    const stranger = await decide("ap-1", { decision: "approve" }, OTHER_TOKEN);
    expect(stranger.status).toBe(403);
    expect(((await stranger.json()) as { error: { code: string } }).error.code).toBe("not_an_approver");
    // Who decides is never taken from the body.
    const forged = await decide(
      "ap-1",
      { decision: "approve", decidedBy: { channel: "http", id: "admin" } },
      OTHER_TOKEN,
    );
    expect(forged.status).toBe(400);
    expect(decisions()).toHaveLength(0);
    expect((await decide("ap-1", { decision: "approve", reason: "looks right" })).status).toBe(202);
    expect(readEvent(decisions()[0]!, T.APPROVAL_DECIDED)).toEqual({
      approvalId: "ap-1",
      runId,
      callId: "call-1",
      instance: "ops",
      digest: `sha256:${"a".repeat(64)}`,
      decision: "approve",
      decidedBy: { channel: "http", id: "admin" },
      reason: "looks right",
    });
    // A retried request sends the same decision again, under the same id; a different one waits for the agent.
    expect((await decide("ap-1", { decision: "approve", reason: "looks right" })).status).toBe(202);
    expect(new Set(decisions().map((event) => event.attributes.id)).size).toBe(1);
    expect((await decide("ap-1", { decision: "deny" })).status).toBe(409);
    expect((await h.deliver(approvalResolved(runId, "ap-1", "approved", "admin"))).status).toBe(200);
    expect(await approval("ap-1")).toMatchObject({ status: "approved", decidedBy: "http:admin", mayDecide: false });
    const late = await decide("ap-1", { decision: "approve" });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { message: string } }).error.message).toContain("approved");
    expect(new Set(decisions().map((event) => event.attributes.id)).size).toBe(1);
    await h.deliver(completed(runId, "ops", "deleted"));
    const events = await readSse(await fetch(`${h.url}/api/v1/runs/${runId}/events`, { headers: auth() }));
    const resolved = events.find((event) => event.event === "approval_resolved");
    expect(JSON.parse(resolved!.data)).toMatchObject({
      approvalId: "ap-1",
      outcome: "approved",
      decidedBy: "http:admin",
    });
  });

  it("a decision the agent refuses opens the approval again for the real approvers", async () => {
    const { runId } = (await (await startRun({ task: "delete" })).json()) as { runId: string };
    // No approvers named: the gateway cannot tell, so it forwards and the agent decides.
    await h.deliver(approvalRequested(runId, "ops", "ap-2", 600_000, null));
    expect((await decide("ap-2", { decision: "deny" }, OTHER_TOKEN)).status).toBe(202);
    expect((await decide("ap-2", { decision: "approve" })).status).toBe(409);
    expect((await h.deliver(approvalResolved(runId, "ap-2", "refused", "ci"))).status).toBe(200);
    // A redelivered refusal changes nothing more.
    expect((await h.deliver(approvalResolved(runId, "ap-2", "refused", "ci"))).status).toBe(200);
    expect((await decide("ap-2", { decision: "approve" })).status).toBe(202);
    expect(readEvent(decisions().at(-1)!, T.APPROVAL_DECIDED).decidedBy).toEqual({ channel: "http", id: "admin" });
  });

  it("answers 404 for an unknown approval and 410 once it expired, by its time or by the agent's verdict", async () => {
    const { runId } = (await (await startRun({ task: "delete" })).json()) as { runId: string };
    expect((await decide("nope", { decision: "deny" })).status).toBe(404);
    await h.deliver(approvalRequested(runId, "ops", "ap-old", -1000));
    expect((await decide("ap-old", { decision: "approve" })).status).toBe(410);
    await h.deliver(approvalRequested(runId, "ops", "ap-ended"));
    await h.deliver(approvalResolved(runId, "ap-ended", "expired"));
    expect((await decide("ap-ended", { decision: "approve" })).status).toBe(410);
    // Refusing a stranger is checked after the approval's state: a closed approval says so to anyone.
    expect((await decide("ap-ended", { decision: "approve" }, OTHER_TOKEN)).status).toBe(410);
    expect(decisions()).toHaveLength(0);
  });

  it("lists and approves pairing codes through the memory service", async () => {
    const channel = await import("../../../clients/memory/client.ts");
    const { mintMemoryToken } = await import("../../../clients/memory/tokens.ts");
    const adapter = new channel.MemoryClient({
      baseUrl: h.memory.url,
      token: mintMemoryToken("memory-secret-for-gateway-tests-0123", { kind: "channel", name: "slack" }),
    });
    const pending = await adapter.requestPairing("ops", { channel: "slack", sender: "T1:U1", displayName: "Ada" });
    if (pending.status !== "pending") throw new Error("expected a pending pairing");
    const list = await fetch(`${h.url}/api/v1/instances/ops/pairing`, { headers: auth() });
    expect(((await list.json()) as { pending: Array<{ code: string }> }).pending.map((p) => p.code)).toContain(
      pending.code,
    );
    const code = `${pending.code.slice(0, 4).toLowerCase()}-${pending.code.slice(4)}`;
    const approved = await fetch(`${h.url}/api/v1/instances/ops/pairing/${code}/approve`, {
      method: "POST",
      headers: auth(),
    });
    expect(approved.status).toBe(200);
    expect(await adapter.isApproved("ops", { channel: "slack", sender: "T1:U1" })).toBe(true);
    const again = await fetch(`${h.url}/api/v1/instances/ops/pairing/${pending.code}/deny`, {
      method: "POST",
      headers: auth(),
    });
    expect(again.status).toBe(409);
    expect(
      (await fetch(`${h.url}/api/v1/instances/ops/pairing/AAAAAAAA/approve`, { method: "POST", headers: auth() }))
        .status,
    ).toBe(404);
    expect(
      (await fetch(`${h.url}/api/v1/instances/ops/pairing/x!/approve`, { method: "POST", headers: auth() })).status,
    ).toBe(400);
  });
});

describe("gateway deliveries", () => {
  it("keeps only its own runs, refuses other channels' sends and non-events", async () => {
    expect((await h.deliver(completed("someone-elses-run", "ops", "x"))).status).toBe(200);
    expect((await h.deliver(said("someone-elses-run", "ops", "x"))).status).toBe(200);
    const slackSend = makeEvent(T.MESSAGE_SEND, {
      source: "/agent",
      data: {
        instance: "ops",
        runId: "r",
        route: { channel: "slack", conversation: "C1" },
        text: "x",
        idempotencyKey: "k",
      },
    });
    expect((await h.deliver(slackSend)).status).toBe(400);
    expect((await fetch(`${h.url}/`, { method: "POST", body: "{}" })).status).toBe(400);
  });
});
