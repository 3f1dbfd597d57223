/**
 * Extension attributes knclaw sets so Triggers can route by filter, never by code (ARCHITECTURE.md, "Routes").
 * Lowercase alphanumerics only: the CloudEvents attribute-name rule and Knative's filter pattern.
 */
export const EXT_INSTANCE = "knclawinstance";
export const EXT_RUN = "knclawrun";
export const EXT_SKILL = "knclawskill";
export const EXT_CHANNEL = "knclawchannel";
/** PingSource ceOverrides carry the schedule's name beside the instance. */
export const EXT_SCHEDULE = "knclawschedule";
/** On timer.fired: which function the timer wakes (`agent`: the instance's agent; `gateway`). */
export const EXT_TARGET = "knclawtarget";
/** W3C trace context travels as the CloudEvents distributed-tracing extension. */
export const EXT_TRACEPARENT = "traceparent";
export const EXT_TRACESTATE = "tracestate";
