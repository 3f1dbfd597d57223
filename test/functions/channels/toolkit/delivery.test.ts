import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { makeEvent } from "../../../../eventing/catalog/make.ts";
import type { Identity, ReplyRoute } from "../../../../eventing/catalog/shared.ts";
import * as T from "../../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../../eventing/cloudevent/event.ts";
import { verifyingTrust } from "../../../../eventing/trust/event-trust.ts";
import { parseTrustBundle } from "../../../../eventing/trust/trusted-producers.ts";
import { adapterApp } from "../../../../functions/channels/toolkit/adapter-app.ts";
import { resolveButton } from "../../../../functions/channels/toolkit/buttons.ts";
import {
  type DeliveryContext,
  type OutboundFile,
  type OutboundPost,
  outboundDelivery,
  type PlatformOutbound,
} from "../../../../functions/channels/toolkit/delivery.ts";
import { PlatformError } from "../../../../functions/channels/toolkit/platform-error.ts";
import { signAs, TEST_AGENTS, trustBundle } from "../../../support/event-keys.ts";
import { approvalRequest, approvalVerdict } from "../support/approvals.ts";
import { deliveryRequest } from "../support/events.ts";
import { MapKeyValue } from "../support/memory-state.ts";

const route: ReplyRoute = { channel: "slack", conversation: "C1", thread: "1.2" };

/** A scripted platform: records accepted posts, edits and private answers; throws queued errors first. */
class ScriptedPlatform implements PlatformOutbound {
  readonly channel = "slack" as const;
  readonly split = { limit: 20, maxParts: 20 };
  readonly accepted: OutboundPost[] = [];
  readonly updates: Array<{ route: ReplyRoute; ref: string; text: string }> = [];
  readonly told: Array<{ route: ReplyRoute; person: Identity; text: string }> = [];
  readonly errors: PlatformError[] = [];
  async post(post: OutboundPost) {
    const error = this.errors.shift();
    if (error) throw error;
    this.accepted.push(post);
    return { ref: `m${this.accepted.length}` };
  }
  update?: PlatformOutbound["update"] = async (route, ref, text) => {
    const error = this.errors.shift();
    if (error) throw error;
    this.updates.push({ route, ref, text });
  };
  async tell(route: ReplyRoute, person: Identity, text: string) {
    this.told.push({ route, person, text });
  }
  mention = (person: Identity) => `<@${person.id}>`;
}

/** The adapter's delivery route as the broker reaches it, trusting what the test agents sign. */
function createDeliveryHandler(ctx: Omit<DeliveryContext, "trust">): (request: Request) => Promise<Response> {
  const trust = verifyingTrust(
    parseTrustBundle(trustBundle(TEST_AGENTS), "KNCLAW_EVENT_KEYS"),
    pino({ level: "silent" }),
  );
  const app = adapterApp({}, outboundDelivery({ ...ctx, trust }));
  return async (request) => app.fetch(request);
}

function request(event: CloudEvent): Request {
  return deliveryRequest("http://adapter/", event);
}

function send(text: string, extra: Record<string, unknown> = {}) {
  return makeEvent(T.MESSAGE_SEND, {
    source: "/test",
    data: { instance: "ops", route, text, idempotencyKey: "idem-1", ...extra },
  });
}

const noWait = { sleep: async () => undefined, maxInlineWaitMs: 0 };

describe("outbound delivery", () => {
  it("posts split parts once; a redelivery posts nothing", async () => {
    const platform = new ScriptedPlatform();
    const handle = createDeliveryHandler({ outbound: platform, kv: new MapKeyValue(), retry: noWait });
    const event = send("alpha beta gamma delta epsilon zeta");
    expect((await handle(request(event))).status).toBe(200);
    expect(platform.accepted.map((p) => p.text)).toEqual(["alpha beta gamma", "delta epsilon zeta"]);
    expect(platform.accepted.every((p) => p.route.thread === "1.2")).toBe(true);
    expect((await handle(request(event))).status).toBe(200);
    expect(platform.accepted).toHaveLength(2);
  });

  it("answers 429 with Retry-After on a platform rate limit and resumes at the failed part", async () => {
    const platform = new ScriptedPlatform();
    const handle = createDeliveryHandler({ outbound: platform, kv: new MapKeyValue(), retry: noWait });
    const event = send("alpha beta gamma delta epsilon zeta");
    platform.errors.push(new PlatformError("slack", "rate_limited", "slow down", { retryAfterMs: 30_000 }));
    // First part succeeds, second is rate limited.
    const original = platform.post.bind(platform);
    let calls = 0;
    platform.post = async (post) => {
      calls += 1;
      if (calls === 1) {
        platform.accepted.push(post);
        return { ref: "m1" };
      }
      return original(post);
    };
    const first = await handle(request(event));
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("30");
    expect(platform.accepted).toHaveLength(1);
    expect((await handle(request(event))).status).toBe(200);
    expect(platform.accepted.map((p) => p.text)).toEqual(["alpha beta gamma", "delta epsilon zeta"]);
  });

  it("retries a short Retry-After in process", async () => {
    const platform = new ScriptedPlatform();
    const waits: number[] = [];
    const handle = createDeliveryHandler({
      outbound: platform,
      kv: new MapKeyValue(),
      retry: { sleep: async (ms) => void waits.push(ms), maxInlineWaitMs: 2000 },
    });
    platform.errors.push(new PlatformError("slack", "rate_limited", "slow down", { retryAfterMs: 1000 }));
    expect((await handle(request(send("hi")))).status).toBe(200);
    expect(waits).toEqual([1000]);
    expect(platform.accepted).toHaveLength(1);
  });

  it("maps outages to 503, bad credentials to 403 and rejected requests to 422", async () => {
    for (const [kind, status] of [
      ["unavailable", 503],
      ["auth", 403],
      ["rejected", 422],
    ] as const) {
      const platform = new ScriptedPlatform();
      platform.errors.push(
        new PlatformError("slack", kind, "x"),
        new PlatformError("slack", kind, "x"),
        new PlatformError("slack", kind, "x"),
      );
      const handle = createDeliveryHandler({ outbound: platform, kv: new MapKeyValue(), retry: noWait });
      expect((await handle(request(send("hi")))).status).toBe(status);
    }
  });

  it("refuses non-events (400), other event types (400), other channels (400) and oversized bodies (413)", async () => {
    const handle = createDeliveryHandler({
      outbound: new ScriptedPlatform(),
      kv: new MapKeyValue(),
      maxBodyBytes: 1024,
    });
    expect((await handle(new Request("http://a/", { method: "POST", body: "{}" }))).status).toBe(400);
    const other = makeEvent(T.RUN_FAILED, {
      source: "/t",
      data: {
        runId: "r",
        instance: "ops",
        usage: { inputTokens: 0, outputTokens: 0 },
        costUsd: 0,
        durationMs: 0,
        turns: 0,
        toolCalls: 0,
        contractVersion: "1",
        reason: "x",
        message: "x",
      },
    });
    expect((await handle(request(other))).status).toBe(400);
    const telegram = makeEvent(T.MESSAGE_SEND, {
      source: "/t",
      data: { instance: "ops", route: { channel: "telegram", conversation: "1" }, text: "x", idempotencyKey: "k" },
    });
    expect((await handle(request(telegram))).status).toBe(400);
    expect((await handle(request(send("x".repeat(2000))))).status).toBe(413);
    // Data that is not JSON names no producer: whoever signed it, nobody may have (403, before anything is read).
    const broken = { attributes: { ...send("x").attributes }, data: new TextEncoder().encode("{not json") };
    expect((await handle(request(signAs("agent/ops", broken)))).status).toBe(403);
  });

  it("renders approval.requested with approve / deny buttons that resolve to the approval", async () => {
    const platform = new ScriptedPlatform();
    platform.split.limit = 4000;
    const kv = new MapKeyValue();
    const handle = createDeliveryHandler({ outbound: platform, kv });
    const approval = makeEvent(T.APPROVAL_REQUESTED, {
      source: "/agent",
      data: {
        approvalId: "ap-1",
        runId: "run-1",
        callId: "call-1",
        instance: "ops",
        skill: "k8s",
        tool: "delete_pod",
        arguments: { name: "web-1" },
        digest: `sha256:${"a".repeat(64)}`,
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
        replyTo: route,
      },
    });
    expect((await handle(request(approval))).status).toBe(200);
    expect((await handle(request(approval))).status).toBe(200);
    expect(platform.accepted).toHaveLength(1);
    const post = platform.accepted[0]!;
    expect(post.text).toContain("k8s.delete_pod");
    expect(post.text).toContain('"name": "web-1"');
    expect(post.buttons?.map((b) => b.label)).toEqual(["Approve", "Deny"]);
    const approve = await resolveButton(kv, post.buttons![0]!.data);
    expect(approve).toMatchObject({
      kind: "approval",
      decision: "approve",
      approvalId: "ap-1",
      callId: "call-1",
      conversation: "C1",
    });
    expect(await resolveButton(kv, post.buttons![1]!.data)).toMatchObject({ decision: "deny" });
    expect(Buffer.byteLength(post.buttons![0]!.data)).toBeLessThanOrEqual(64);
    expect(await resolveButton(kv, "kc1:AAAAAAAAAAAAAAAAAAAAAA")).toBeUndefined();
    expect(await resolveButton(kv, "garbage")).toBeUndefined();
  });

  it("treats plain buttons as replies", async () => {
    const platform = new ScriptedPlatform();
    const kv = new MapKeyValue();
    const handle = createDeliveryHandler({ outbound: platform, kv });
    const event = send("pick", { buttons: [{ id: "yes", label: "Yes" }] });
    expect((await handle(request(event))).status).toBe(200);
    expect(await resolveButton(kv, platform.accepted[0]!.buttons![0]!.data)).toMatchObject({
      kind: "reply",
      buttonId: "yes",
      instance: "ops",
    });
  });
});

describe("approval verdicts", () => {
  const alice: Identity = { channel: "slack", id: "U1", workspace: "T1", displayName: "alice" };
  const bob: Identity = { channel: "slack", id: "U2", workspace: "T1" };

  async function prompted(platform = new ScriptedPlatform()) {
    platform.split.limit = 4000;
    const kv = new MapKeyValue();
    const handle = createDeliveryHandler({ outbound: platform, kv, retry: noWait });
    expect((await handle(request(approvalRequest({ approvalId: "ap-v", replyTo: route })))).status).toBe(200);
    return { platform, kv, handle };
  }

  it("approved: the prompt gains the outcome and who, loses its buttons, once however often redelivered", async () => {
    const { platform, handle } = await prompted();
    const verdict = approvalVerdict({ approvalId: "ap-v", replyTo: route, outcome: "approved", decidedBy: alice });
    expect((await handle(request(verdict))).status).toBe(200);
    expect((await handle(request(verdict))).status).toBe(200);
    expect(platform.updates).toHaveLength(1);
    const update = platform.updates[0]!;
    expect(update.ref).toBe("m1");
    expect(update.route).toEqual(route);
    expect(update.text.startsWith(platform.accepted[0]!.text)).toBe(true);
    expect(update.text.endsWith("\n\nApproved by <@U1>")).toBe(true);
    expect(platform.accepted).toHaveLength(1);
    expect(platform.told).toHaveLength(0);
  });

  it("denied and expired say so, with the approver's reason or why it expired", async () => {
    for (const [outcome, line] of [
      ["denied", "Denied by <@U1>: not on a Friday"],
      ["expired", "Expired: the run ended before a decision"],
    ] as const) {
      const { platform, handle } = await prompted();
      const reason = outcome === "denied" ? "not on a Friday" : "the run ended before a decision";
      const verdict = approvalVerdict({
        approvalId: "ap-v",
        replyTo: route,
        outcome,
        reason,
        ...(outcome === "denied" ? { decidedBy: alice } : {}),
      });
      expect((await handle(request(verdict))).status).toBe(200);
      expect(platform.updates[0]!.text.endsWith(line)).toBe(true);
    }
  });

  it("refused: only the refused person is told, the prompt and its buttons stay, once per refused decision", async () => {
    const { platform, handle } = await prompted();
    const refused = (id: string) =>
      approvalVerdict({
        approvalId: "ap-v",
        replyTo: route,
        outcome: "refused",
        decidedBy: bob,
        reason: "U2 may not approve this call",
        id,
      });
    expect((await handle(request(refused("r-1")))).status).toBe(200);
    expect((await handle(request(refused("r-1")))).status).toBe(200);
    expect((await handle(request(refused("r-2")))).status).toBe(200);
    expect(platform.updates).toHaveLength(0);
    expect(platform.accepted).toHaveLength(1);
    expect(platform.told).toEqual([
      { route, person: bob, text: "Your decision was refused: U2 may not approve this call." },
      { route, person: bob, text: "Your decision was refused: U2 may not approve this call." },
    ]);
  });

  it("where the platform cannot edit, the verdict is a message of its own in the prompt's conversation", async () => {
    const platform = new ScriptedPlatform();
    platform.update = undefined;
    const { handle } = await prompted(platform);
    const verdict = approvalVerdict({ approvalId: "ap-v", replyTo: route, outcome: "approved", decidedBy: alice });
    expect((await handle(request(verdict))).status).toBe(200);
    expect((await handle(request(verdict))).status).toBe(200);
    expect(platform.accepted.map((post) => post.text)).toEqual([expect.any(String), "Approved by <@U1>"]);
    expect(platform.accepted[1]!.route).toEqual(route);
  });

  it("answers a platform failure so the broker retries, then updates once", async () => {
    const { platform, handle } = await prompted();
    platform.errors.push(new PlatformError("slack", "unavailable", "x"));
    const verdict = approvalVerdict({ approvalId: "ap-v", replyTo: route, outcome: "approved", decidedBy: alice });
    expect((await handle(request(verdict))).status).toBe(503);
    expect((await handle(request(verdict))).status).toBe(200);
    expect(platform.updates).toHaveLength(1);
  });

  it("refuses a verdict for another channel (400) and changes nothing", async () => {
    const { platform, handle } = await prompted();
    const other = approvalVerdict({
      approvalId: "ap-v",
      replyTo: { channel: "telegram", conversation: "1" },
      outcome: "approved",
      decidedBy: alice,
    });
    expect((await handle(request(other))).status).toBe(400);
    expect(platform.updates).toHaveLength(0);
  });
});

describe("long answers", () => {
  /** The scripted platform with uploads: records files, or refuses them with queued errors. */
  class UploadingPlatform extends ScriptedPlatform {
    readonly files: OutboundFile[] = [];
    readonly fileErrors: PlatformError[] = [];
    attach = async (file: OutboundFile) => {
      const error = this.fileErrors.shift();
      if (error) throw error;
      this.files.push(file);
      return { ref: `f${this.files.length}` };
    };
  }
  const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");

  it("past the part cap the rest is uploaded once as a file after the messages", async () => {
    const platform = new UploadingPlatform();
    platform.split.maxParts = 3;
    const handle = createDeliveryHandler({ outbound: platform, kv: new MapKeyValue(), retry: noWait });
    const event = send(long, { runId: "run-9" });
    expect((await handle(request(event))).status).toBe(200);
    expect((await handle(request(event))).status).toBe(200);
    expect(platform.accepted).toHaveLength(2);
    expect(platform.accepted.map((p) => p.part)).toEqual([0, 1]);
    expect(platform.files).toHaveLength(1);
    const file = platform.files[0]!;
    expect(`${platform.accepted.map((p) => p.text).join(" ")} ${file.content}`).toBe(long);
    expect(file).toMatchObject({ route, filename: "answer-run-9.txt", idempotencyKey: "idem-1#file" });
    expect(file.caption).toMatch(/^The answer continues in this file \(\d+ more characters\)\.$/);
  });

  it("an upload the platform refuses for good becomes a message saying what was cut and where it is", async () => {
    const platform = new UploadingPlatform();
    platform.split.maxParts = 3;
    platform.fileErrors.push(new PlatformError("slack", "auth", "missing_scope"));
    const handle = createDeliveryHandler({ outbound: platform, kv: new MapKeyValue(), retry: noWait });
    expect((await handle(request(send(long, { runId: "run-9" })))).status).toBe(200);
    expect(platform.files).toHaveLength(0);
    expect(platform.accepted).toHaveLength(3);
    expect(platform.accepted[2]!.text).toMatch(
      /^\[\d+ more characters are not shown: this chat takes 3 messages per answer\. The whole answer is run run-9 in the operator console \(\/console\/runs\/run-9\)\.\]$/,
    );
  });

  it("an upload that fails for now is retried by the broker and posted once", async () => {
    const platform = new UploadingPlatform();
    platform.split.maxParts = 3;
    platform.fileErrors.push(new PlatformError("slack", "unavailable", "down"));
    const handle = createDeliveryHandler({ outbound: platform, kv: new MapKeyValue(), retry: noWait });
    const event = send(long, { runId: "run-9" });
    expect((await handle(request(event))).status).toBe(503);
    expect((await handle(request(event))).status).toBe(200);
    expect(platform.accepted).toHaveLength(2);
    expect(platform.files).toHaveLength(1);
  });
});
