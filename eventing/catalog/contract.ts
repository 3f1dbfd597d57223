import { z } from "zod";
import { ToolErrorClass } from "./shared.ts";

/**
 * A task contract: what the executor enforces whatever the planner proposes (DESIGN.md §4). Policies in knclaw.yaml
 * have this shape; a run.requested may carry a stricter one, which the agent intersects with the instance's policy.
 * Tool patterns name a tool as `<skill>.<tool>`, a whole skill as `<skill>.*`, or a group such as `k8s:read`.
 */
const positiveInt = z.number().int().positive();
const toolPattern = z.string().min(1).max(128);

export const TaskContract = z
  .object({
    tools: z
      .object({
        allow: z.array(toolPattern).max(256).optional(),
        deny: z.array(toolPattern).max(256).optional(),
      })
      .strict()
      .optional(),
    approvals: z
      .object({
        tools: z.array(toolPattern).max(256).optional(),
        approvers: z.array(z.string().min(1).max(256)).max(256).optional(),
        timeoutSeconds: positiveInt.max(7 * 24 * 3600).optional(),
      })
      .strict()
      .optional(),
    budgets: z
      .object({
        tokens: positiveInt.optional(),
        costUsd: z.number().positive().optional(),
        toolCalls: positiveInt.optional(),
        modelTurns: positiveInt.optional(),
        wallClockSeconds: positiveInt.optional(),
        concurrentRunsPerInstance: positiveInt.optional(),
        concurrentRunsPerSender: positiveInt.optional(),
      })
      .strict()
      .optional(),
    retry: z
      .object({
        maxAttempts: positiveInt.max(10).optional(),
        backoffSeconds: z.number().nonnegative().max(3600).optional(),
        retryOn: z.array(ToolErrorClass).optional(),
      })
      .strict()
      .optional(),
    termination: z
      .object({
        maxTurns: positiveInt.optional(),
        maxConsecutiveToolFailures: positiveInt.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type TaskContract = z.infer<typeof TaskContract>;
