/** Every event type on the knclaw broker (ARCHITECTURE.md, "Events"). */
export const MESSAGE_RECEIVED = "dev.knclaw.message.received";
export const RUN_REQUESTED = "dev.knclaw.run.requested";
export const PING = "dev.knative.sources.ping";
export const TOOL_REQUESTED = "dev.knclaw.tool.requested";
export const TOOL_COMPLETED = "dev.knclaw.tool.completed";
export const APPROVAL_REQUESTED = "dev.knclaw.approval.requested";
export const APPROVAL_DECIDED = "dev.knclaw.approval.decided";
/** The agent's verdict on a decision (or on an approval that expired): chats and the gateway show only this. */
export const APPROVAL_RESOLVED = "dev.knclaw.approval.resolved";
export const MESSAGE_SEND = "dev.knclaw.message.send";
export const RUN_COMPLETED = "dev.knclaw.run.completed";
export const RUN_FAILED = "dev.knclaw.run.failed";
/** A due-time timer fired: the memory service wakes the function that armed it, and only that one. */
export const TIMER_FIRED = "dev.knclaw.timer.fired";
