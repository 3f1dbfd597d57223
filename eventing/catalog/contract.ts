import { z } from "zod";
import { ToolErrorClass } from "./shared.ts";

/**
 * A task contract: what the executor enforces whatever the planner proposes (ARCHITECTURE.md, "Task contracts and the
 * policy gate"). Policies in knclaw.yaml have this shape; a run.requested may carry a stricter one, which the agent
 * intersects with the instance's policy. Tool patterns name a tool as `<skill>.<tool>`, a whole skill as `<skill>.*`,
 * or a group such as `k8s:read`.
 */
const positiveInt = z.number().int().positive();
const toolPattern = z.string().min(1).max(128);

export const TaskContract = z
  .object({
    tools: z
      .object({
        allow: z.array(toolPattern).max(256).optional().describe("Tools the run may call; absent allows every tool."),
        deny: z.array(toolPattern).max(256).optional().describe("Tools the run may never call; deny wins over allow."),
      })
      .strict()
      .optional()
      .describe("Tool patterns: `<skill>.<tool>`, `<skill>.*` or a group such as `k8s:read`."),
    approvals: z
      .object({
        tools: z.array(toolPattern).max(256).optional().describe("Tools held until a person approves the exact call."),
        approvers: z
          .array(z.string().min(1).max(256))
          .max(256)
          .optional()
          .describe(
            "Who may approve: `person:<id>`, `<channel>:<id>` or `<channel>:<workspace>/<id>`; absent, only whoever started the run.",
          ),
        timeoutSeconds: positiveInt
          .max(7 * 24 * 3600)
          .optional()
          .describe("An approval not decided within this is refused."),
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
      .optional()
      .describe("Limits per run (tokens, cost in USD, tool calls, model turns, wall clock) and concurrent runs."),
    retry: z
      .object({
        maxAttempts: positiveInt.max(10).optional(),
        backoffSeconds: z.number().nonnegative().max(3600).optional(),
        retryOn: z.array(ToolErrorClass).optional(),
      })
      .strict()
      .optional()
      .describe("How the agent retries a failed tool call of a retryable error class."),
    termination: z
      .object({
        maxTurns: positiveInt.optional(),
        maxConsecutiveToolFailures: positiveInt.optional(),
      })
      .strict()
      .optional()
      .describe("When a run is stopped: after this many model turns, or this many tool failures in a row."),
  })
  .strict()
  .meta({
    id: "TaskContract",
    description:
      "What the executor enforces whatever the model proposes: allowed and denied tools, approvals, budgets, retries and termination. A run's contract can only narrow its instance's policy.",
  });
export type TaskContract = z.infer<typeof TaskContract>;
