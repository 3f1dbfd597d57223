import type { Run } from "../../clients/memory/contract/runs.ts";
import { TERMINAL_RUN_STATUSES } from "../../clients/memory/contract/runs.ts";
import type { MessageReceived, TimerFired } from "../../eventing/catalog/events.ts";
import { messageRunId } from "../../eventing/catalog/message-run.ts";
import type { EventSink } from "../../eventing/client/broker-client.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import type { RunContext } from "./runs.ts";

/**
 * No chat message is stranded either (ARCHITECTURE.md, "No run is stranded"). A `message.received` the broker could
 * not deliver to its agent (the agent down past the Trigger's retries) is dead-lettered; nothing would start its run
 * until an operator's `knclaw dlq replay`. So the gateway takes every message.received too (its Trigger
 * `gateway-message-received`), keeps the event as it came (its channel's signature included) and arms a timer
 * (target `gateway`, kind `chat`, id the run the message starts: eventing/catalog/message-run.ts). Each time it fires
 * while that run has not ended (the agent's run document, read from the memory service), the timer is armed again,
 * twice as late each time up to 15 minutes, and the message goes out again, unchanged and under its own id. The
 * agent takes it once and answers as the run stands: it starts a run it never got, and for a run it is working on
 * arms its deadline timer again and sends the first step if that never went out; a run that has ended, or the run's
 * outcome arriving (run.completed / run.failed), ends the re-drive. Chat commands (`/new`, `/status`, ...) start no
 * run and are not kept.
 */
export const CHAT_TIMER = "chat";
const MAX_DELAY_MS = 15 * 60_000;
/** How long a kept message outlives its last re-drive: longer than any run waits. */
const KEEP_SECONDS = 7 * 24 * 3600;

export interface ChatRedriveContext extends RunContext {
  /** The broker, unsigned: a kept message goes out with its channel's own signature. */
  forward: EventSink;
  /** The agent's run document (the memory service). */
  findRun: (id: string) => Promise<Run | undefined>;
}

interface KeptMessage {
  attributes: Record<string, string>;
  /** The event's data, base64. */
  data?: string;
}

const keptKey = (runId: string) => `gw:chat:${runId}`;

/** A chat message passed through the broker: kept, and its first look armed `afterMs` from now. */
export async function onChatMessage(ctx: ChatRedriveContext, event: CloudEvent, message: MessageReceived) {
  if (ctx.redrive === undefined || message.command !== undefined) return;
  const runId = messageRunId(message);
  const kept: KeptMessage = {
    attributes: event.attributes as Record<string, string>,
    ...(event.data !== undefined ? { data: Buffer.from(event.data).toString("base64") } : {}),
  };
  await ctx.store.kvForEmits.set(keptKey(runId), JSON.stringify(kept), KEEP_SECONDS);
  await arm(ctx, message.instance, runId, 0);
}

/** A chat timer fired: the message of a run that has not ended goes out again, and is looked at later once more. */
export async function onChatTimer(ctx: ChatRedriveContext, fired: TimerFired): Promise<void> {
  const stored = await ctx.store.kvForEmits.get(keptKey(fired.id));
  if (stored === undefined) return;
  const run = await ctx.findRun(fired.id);
  if (run !== undefined && TERMINAL_RUN_STATUSES.includes(run.status)) {
    await forget(ctx, fired.instance, fired.id);
    return;
  }
  const attempt = typeof fired.data?.attempt === "number" ? fired.data.attempt : 0;
  await arm(ctx, fired.instance, fired.id, attempt + 1);
  const kept = JSON.parse(stored) as KeptMessage;
  await ctx.forward.emit({
    attributes: kept.attributes,
    ...(kept.data !== undefined ? { data: new Uint8Array(Buffer.from(kept.data, "base64")) } : {}),
  });
  ctx.log.info({ runId: fired.id, attempt: attempt + 1 }, "chat message re-driven: its run has not ended");
}

/** The run's outcome arrived: nothing left to re-drive (a chat run's outcome is not kept by the gateway). */
export async function onChatOutcome(ctx: RunContext, instance: string, runId: string): Promise<void> {
  if (ctx.redrive === undefined || !runId.startsWith("m-")) return;
  await forget(ctx, instance, runId);
}

async function arm(ctx: RunContext, instance: string, runId: string, attempt: number): Promise<void> {
  const delay = Math.min(ctx.redrive!.afterMs * 2 ** attempt, MAX_DELAY_MS);
  await ctx.redrive!.timers.arm({ instance, runId }, ctx.now() + delay, attempt, CHAT_TIMER);
}

async function forget(ctx: RunContext, instance: string, runId: string): Promise<void> {
  await ctx.redrive!.timers.disarm({ instance, runId }, CHAT_TIMER);
  await ctx.store.kvForEmits.delete(keptKey(runId));
}
