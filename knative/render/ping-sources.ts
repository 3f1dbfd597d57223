/**
 * One PingSource per instance schedule. Ticks go to the broker like any other event; the `agent-<i>-ping` Trigger
 * routes them by the `knclawinstance` extension set through ceOverrides, and `knclawschedule` names the schedule.
 * The data is the schedule's task (the catalog's PingData).
 */
import { EXT_INSTANCE, EXT_SCHEDULE, SWEEP_SCHEDULE } from "../../eventing/catalog/attributes.ts";
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
          data: stableJson({ task: schedule.task, concurrencyPolicy: schedule.concurrencyPolicy }),
          sink: { ref: brokerRef(ctx) },
          ceOverrides: { extensions: { [EXT_INSTANCE]: name, [EXT_SCHEDULE]: schedule.name } },
        },
      });
    }
    // Housekeeping tick (added by the agent engineer): each minute the agent expires approvals past their timeout,
    // fails tool calls no skill answered and enforces wall-clock budgets. Schedule names knclaw-* are reserved for it.
    const sweepName = `agent-${name}-${SWEEP_SCHEDULE}`;
    out.push({
      apiVersion: "sources.knative.dev/v1",
      kind: "PingSource",
      metadata: metadata(ctx, sweepName, {
        ...baseLabels(ctx, sweepName),
        [LABEL_COMPONENT]: "agent",
        [LABEL_INSTANCE]: name,
        [LABEL_ROUTE]: `agent-${name}`,
      }),
      spec: {
        schedule: "* * * * *",
        contentType: "application/json",
        data: "{}",
        sink: { ref: brokerRef(ctx) },
        ceOverrides: { extensions: { [EXT_INSTANCE]: name, [EXT_SCHEDULE]: SWEEP_SCHEDULE } },
      },
    });
  }
  return out;
}
