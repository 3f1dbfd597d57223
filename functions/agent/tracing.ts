import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import type { ModelResponse } from "./providers/model.ts";

/**
 * Spans for the agent (ARCHITECTURE.md, "Observability"), through the OpenTelemetry API only: without an SDK registered
 * (the default) every call is a no-op; the process that registers one (OTLP exporter, `knclaw dev`'s in-memory store)
 * gets a step span per event, continuing the trace in the event's `traceparent`, and a GenAI span per model call.
 */
const tracer = trace.getTracer("knclaw-agent");
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The context a W3C traceparent names (remote parent), or the root context when there is none or it is invalid. */
export function contextFrom(traceparent: string | undefined): Context {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return ROOT_CONTEXT;
  const spanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return trace.setSpanContext(ROOT_CONTEXT, spanContext);
}

/** Note a fact on the current span (policy verdicts, approvals): what the platform decided, next to what happened. */
export function note(name: string, attributes: Attributes): void {
  trace.getActiveSpan()?.addEvent(name, attributes);
}

export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Run one step inside a span; failures are recorded on it and rethrown. */
export async function inSpan<T>(
  name: string,
  parent: Context,
  attributes: Attributes,
  run: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
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

/** A model call as an OpenTelemetry GenAI client span (`chat <model>`, gen_ai.* attributes). */
export async function modelSpan(
  provider: string,
  model: string,
  run: () => Promise<ModelResponse>,
): Promise<ModelResponse> {
  return tracer.startActiveSpan(
    `chat ${model}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { "gen_ai.operation.name": "chat", "gen_ai.system": provider, "gen_ai.request.model": model },
    },
    async (span) => {
      try {
        const response = await run();
        span.setAttributes({
          "gen_ai.usage.input_tokens": response.usage.inputTokens,
          "gen_ai.usage.output_tokens": response.usage.outputTokens,
          "gen_ai.response.finish_reasons": [response.finishReason],
          "knclaw.tool_calls": response.toolCalls.length,
        });
        return response;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : "error" });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
