/**
 * One PingSource per instance schedule, and nothing else: an instance without schedules gets no tick at all (its
 * deadlines are due-time timers in the memory service, which wake it only when one is due). Ticks go to the broker
 * like any other event; the `agent-<i>-ping` Trigger routes them by the `knclawinstance` extension set through
 * ceOverrides, and `knclawschedule` names the schedule. The data is the schedule's task, concurrency policy and
 * target (`replyTo`, where a heartbeat's answer goes), so the PingSource on the cluster says what it starts and where
 * it reports. The agent itself takes all three from its own configuration (KNCLAW_SCHEDULES) by the schedule's name:
 * Knative cannot sign a tick, so nothing in a tick's data is trusted.
 */
import { EXT_INSTANCE, EXT_SCHEDULE } from "../../eventing/catalog/attributes.ts";
import { stableJson } from "../../runtime/env-contract.ts";
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_ROUTE } from "../../runtime/names.ts";
import { baseLabels, brokerRef, metadata, type RenderContext } from "./context.ts";
import type { RenderedObject } from "./types.ts";

export function renderPingSources(ctx: RenderContext): RenderedObject[] {
  const out: RenderedObject[] = [];
  for (const [name, instance] of Object.entries(ctx.config.instances)) {
    for (const schedule of instance.schedules) {
      const objectName = `agent-${name}-${schedule.name}`;
      out.push({
        apiVersion: "sources.knative.dev/v1",
        kind: "PingSource",
        metadata: metadata(ctx, objectName, {
          ...baseLabels(ctx, objectName),
          [LABEL_COMPONENT]: "agent",
          [LABEL_INSTANCE]: name,
          [LABEL_ROUTE]: `agent-${name}`,
        }),
        spec: {
          schedule: schedule.schedule,
          ...(schedule.timezone !== undefined ? { timezone: schedule.timezone } : {}),
          contentType: "application/json",
          data: stableJson({
            task: schedule.task,
            concurrencyPolicy: schedule.concurrencyPolicy,
            ...(schedule.replyTo !== undefined ? { replyTo: schedule.replyTo } : {}),
          }),
          sink: { ref: brokerRef(ctx) },
          ceOverrides: { extensions: { [EXT_INSTANCE]: name, [EXT_SCHEDULE]: schedule.name } },
        },
      });
    }
  }
  return out;
}
