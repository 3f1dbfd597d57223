import { type Attributes, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { instruments } from "../../runtime/metrics.ts";
import { ModelError } from "./providers/errors.ts";
import type { ModelResponse } from "./providers/model.ts";

/**
 * Spans and metrics of the agent (ARCHITECTURE.md, "Observability"), through the OpenTelemetry API only: the function
 * runtime's delivery span (runtime/app.ts) continues the event's trace, a step span nests in it, a GenAI client span
 * per model call follows the OpenTelemetry GenAI conventions, and the platform's decisions (policy verdicts,
 * approvals, budgets) are events on the step span. Without an SDK (runtime/telemetry.ts) every call is a no-op.
 */
const tracer = trace.getTracer("knclaw-agent");

/** Note a fact on the current span (policy verdicts, approvals): what the platform decided, next to what happened. */
export function note(name: string, attributes: Attributes): void {
  trace.getActiveSpan()?.addEvent(name, attributes);
}

export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Run one step inside a span; failures are recorded on it and rethrown. */
export async function inSpan<T>(name: string, attributes: Attributes, run: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    try {
      return await run(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "error" });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A model call as an OpenTelemetry GenAI client span (`chat <model>`, gen_ai.* attributes) and the GenAI client
 * metrics (token usage, operation duration). A failure keeps the provider's status, error type and message (already
 * stripped of anything key-like by the provider's classification) on the span.
 */
export async function modelSpan(
  provider: string,
  model: string,
  run: () => Promise<ModelResponse>,
): Promise<ModelResponse> {
  const base = { "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model };
  return tracer.startActiveSpan(`chat ${model}`, { kind: SpanKind.CLIENT, attributes: base }, async (span) => {
    const started = performance.now();
    const metrics = instruments();
    try {
      const response = await run();
      span.setAttributes({
        "gen_ai.usage.input_tokens": response.usage.inputTokens,
        "gen_ai.usage.output_tokens": response.usage.outputTokens,
        "gen_ai.response.finish_reasons": [response.finishReason],
        "knclaw.tool_calls": response.toolCalls.length,
      });
      metrics.tokenUsage.record(response.usage.inputTokens, { ...base, "gen_ai.token.type": "input" });
      metrics.tokenUsage.record(response.usage.outputTokens, { ...base, "gen_ai.token.type": "output" });
      metrics.operationDuration.record((performance.now() - started) / 1000, base);
      return response;
    } catch (error) {
      const errorType = error instanceof ModelError ? error.kind : error instanceof Error ? error.name : "_OTHER";
      span.setAttributes({
        "error.type": errorType,
        ...(error instanceof ModelError && error.status !== undefined
          ? { "http.response.status_code": error.status }
          : {}),
        ...(error instanceof ModelError && error.errorType !== undefined
          ? { "knclaw.provider.error_type": error.errorType }
          : {}),
      });
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : "error" });
      metrics.operationDuration.record((performance.now() - started) / 1000, { ...base, "error.type": errorType });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** What a committed step decided, as span events on the step and as metrics (once per step, after its commit). */
export function observeStep(
  instance: string,
  audit: ReadonlyArray<{ type: string; data: Record<string, unknown> }>,
  outcome: { status: "completed" | "failed"; reason?: string; costUsd: number } | undefined,
): void {
  const metrics = instruments();
  for (const fact of audit) {
    note(fact.type, flat(fact.data));
    if (fact.type === "policy.refused") metrics.policyRefusals.add(1, { "knclaw.instance": instance });
    const decision = /^approval\.(requested|granted|denied|refused|expired)$/.exec(fact.type)?.[1];
    if (decision) metrics.approvals.add(1, { "knclaw.instance": instance, "knclaw.approval.decision": decision });
  }
  if (outcome === undefined) return;
  const reason = outcome.reason ?? "";
  metrics.runs.add(1, {
    "knclaw.instance": instance,
    "knclaw.run.outcome": outcome.status,
    ...(outcome.reason ? { "knclaw.run.reason": reason } : {}),
  });
  if (outcome.costUsd > 0) metrics.cost.add(outcome.costUsd, { "knclaw.instance": instance });
  const budget = /^budget_exceeded:(.+)$/.exec(reason)?.[1];
  if (budget) {
    note("budget.exhausted", { "knclaw.budget.kind": budget });
    metrics.budgetExhausted.add(1, { "knclaw.instance": instance, "knclaw.budget.kind": budget });
  }
}

function flat(data: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined || value === null) continue;
    out[key] = typeof value === "object" ? JSON.stringify(value) : (value as string | number | boolean);
  }
  return out;
}
