import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ToolOutcome, ToolRequested } from "../../eventing/catalog/index.ts";
import { instruments } from "../../runtime/metrics.ts";

const tracer = trace.getTracer("knclaw-skill");

/**
 * A tool call as an OpenTelemetry GenAI `execute_tool` span (gen_ai.tool.name, gen_ai.tool.call.id) inside the
 * delivery's span, and counted by skill and outcome (`ok`, or the typed error's class, which is also error.type).
 */
export function executeToolSpan(
  skill: string,
  request: ToolRequested,
  run: () => Promise<ToolOutcome>,
): Promise<ToolOutcome> {
  return tracer.startActiveSpan(
    `execute_tool ${request.tool}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": request.tool,
        "gen_ai.tool.call.id": request.callId,
        "gen_ai.tool.type": "function",
        "knclaw.skill": skill,
        "knclaw.run_id": request.runId,
        "knclaw.instance": request.instance,
      },
    },
    async (span) => {
      try {
        const outcome = await run();
        const result = outcome.ok ? "ok" : outcome.error.class;
        if (!outcome.ok) {
          span.setAttribute("error.type", outcome.error.class);
          span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.class });
        }
        instruments().toolCalls.add(1, {
          "knclaw.skill": skill,
          "gen_ai.tool.name": request.tool,
          "knclaw.tool.outcome": result,
        });
        return outcome;
      } finally {
        span.end();
      }
    },
  );
}
