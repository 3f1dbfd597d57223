import { randomUUID } from "node:crypto";
import { MemoryClient } from "../../../../clients/memory/client.ts";
import { mintMemoryToken } from "../../../../clients/memory/tokens.ts";
import { makeEvent, readEvent } from "../../../../eventing/catalog/make.ts";
import * as T from "../../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../../eventing/cloudevent/event.ts";
import { createApp as createGateway, type GatewayDeps } from "../../../../functions/gateway/app.ts";
import { createApp as createMemory } from "../../../../functions/memory/app.ts";
import { type Served, serve } from "../../../../runtime/serve.ts";
import { eventKeysEnv } from "../../../support/event-keys.ts";
import { deliveryRequest } from "../../channels/support/events.ts";
import { RecordingBroker } from "../../channels/support/recording-broker.ts";

export const TOKEN = "gateway-test-token-admin-0123456789";
export const OTHER_TOKEN = "gateway-test-token-ci-0123456789ab";
const MEMORY_SECRET = "memory-secret-for-gateway-tests-0123";
const MEMORY_OPERATOR = "memory-operator-for-gateway-tests";

/** A gateway on loopback, on a real memory service (embedded store), emitting to a recording broker. */
export interface GatewayHarness {
  url: string;
  broker: RecordingBroker;
  memory: Served;
  operator: MemoryClient;
  served: Served;
  /** POST a CloudEvent to the gateway as the broker delivers it (signed as channels/support/events.ts says). */
  deliver(event: CloudEvent): Promise<Response>;
  stop(): Promise<void>;
}

export async function startGateway(
  env: Record<string, string> = {},
  deps: Pick<GatewayDeps, "now"> = {},
): Promise<GatewayHarness> {
  const broker = await new RecordingBroker().start();
  const memoryApp = await createMemory({
    KNCLAW_MEMORY_TOKEN_SECRET: MEMORY_SECRET,
    KNCLAW_MEMORY_OPERATOR_TOKEN: MEMORY_OPERATOR,
    KNCLAW_MEMORY_BACKEND: "embedded",
  });
  const memory = await serve(memoryApp, { port: 0, host: "127.0.0.1" });
  const app = await createGateway(
    {
      KNCLAW_GATEWAY_TOKENS: "admin,ci",
      KNCLAW_GATEWAY_TOKEN_ADMIN: TOKEN,
      KNCLAW_GATEWAY_TOKEN_CI: OTHER_TOKEN,
      KNCLAW_INSTANCES: JSON.stringify(["ops", "dev"]),
      KNCLAW_MEMORY_URL: memory.url,
      KNCLAW_MEMORY_TOKEN: mintMemoryToken(MEMORY_SECRET, { kind: "gateway" }),
      K_SINK: broker.url,
      // The gateway signs as itself and acts on what these instances' agents (and the memory service's timers) sign.
      ...eventKeysEnv("gateway", ["agent/ops", "agent/dev", "memory"]),
      ...env,
    },
    deps,
  );
  const served = await serve(app, { port: 0, host: "127.0.0.1" });
  return {
    url: served.url,
    broker,
    memory,
    operator: new MemoryClient({ baseUrl: memory.url, token: MEMORY_OPERATOR }),
    served,
    deliver: (event) => fetch(deliveryRequest(`${served.url}/`, event)),
    async stop() {
      await served.shutdown();
      await memory.shutdown();
      await broker.stop();
    },
  };
}

export function auth(token = TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}`, "content-type": "application/json" };
}

const usage = { inputTokens: 12, outputTokens: 5 };

export function completed(runId: string, instance: string, output: string): CloudEvent {
  return makeEvent(T.RUN_COMPLETED, {
    source: "/agent",
    id: `done-${runId}`,
    data: { runId, instance, usage, costUsd: 0, durationMs: 10, turns: 1, toolCalls: 0, contractVersion: "1", output },
  });
}

export function failed(runId: string, instance: string, reason: string, message: string): CloudEvent {
  return makeEvent(T.RUN_FAILED, {
    source: "/agent",
    id: `failed-${runId}`,
    data: {
      runId,
      instance,
      usage,
      costUsd: 0,
      durationMs: 10,
      turns: 1,
      toolCalls: 0,
      contractVersion: "1",
      reason,
      message,
    },
  });
}

export function said(runId: string, instance: string, text: string, id: string = randomUUID()): CloudEvent {
  return makeEvent(T.MESSAGE_SEND, {
    source: "/agent",
    id,
    data: { instance, runId, route: { channel: "http", conversation: runId }, text, idempotencyKey: id },
  });
}

export function approvalRequested(
  runId: string,
  instance: string,
  approvalId: string,
  expiresInMs = 600_000,
  /** null: an approval.requested that names no approvers. */
  approvers: string[] | null = ["http:admin"],
): CloudEvent {
  return makeEvent(T.APPROVAL_REQUESTED, {
    source: "/agent",
    id: `approval-${approvalId}`,
    data: {
      approvalId,
      runId,
      callId: "call-1",
      instance,
      skill: "k8s",
      tool: "delete_pod",
      arguments: { name: "web-1" },
      digest: `sha256:${"a".repeat(64)}`,
      ...(approvers !== null ? { approvers } : {}),
      expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
      replyTo: { channel: "http", conversation: runId },
    },
  });
}

/** The agent's verdict on an approval of the http channel. */
export function approvalResolved(
  runId: string,
  approvalId: string,
  outcome: "approved" | "denied" | "refused" | "expired",
  decidedBy?: string,
): CloudEvent {
  return makeEvent(T.APPROVAL_RESOLVED, {
    source: "/agent",
    id: `resolved-${approvalId}-${outcome}-${decidedBy ?? ""}`,
    data: {
      approvalId,
      runId,
      callId: "call-1",
      instance: "ops",
      outcome,
      ...(decidedBy !== undefined ? { decidedBy: { channel: "http", id: decidedBy } } : {}),
      replyTo: { channel: "http", conversation: runId },
    },
  });
}

/** Play the agent: answer every run.requested the gateway emits with what `respond` returns. */
export function actAsAgent(
  h: GatewayHarness,
  respond: (runId: string, instance: string, task: string) => CloudEvent[],
): void {
  h.broker.onEvent = (event) => {
    if (event.attributes.type !== T.RUN_REQUESTED) return;
    const data = readEvent(event, T.RUN_REQUESTED);
    void (async () => {
      for (const reply of respond(data.runId, data.instance, data.task)) await h.deliver(reply);
    })();
  };
}

/**
 * Deliver a gateway timer (read from the memory service) to the gateway as the memory service fires it at its due
 * time: the test memory service has no broker to fire into. The timer must be armed.
 */
export async function fireTimer(
  h: GatewayHarness,
  name: { instance: string; target: "gateway"; kind: string; id: string },
): Promise<number> {
  const timer = (await h.operator.getTimer(name))!;
  const event = makeEvent(T.TIMER_FIRED, {
    source: "/knclaw/memory",
    data: {
      instance: timer.instance,
      target: timer.target,
      kind: timer.kind,
      id: timer.id,
      dueAt: new Date(timer.dueAt).toISOString(),
      ...(timer.data !== undefined ? { data: timer.data } : {}),
    },
  });
  return (await h.deliver(event)).status;
}
