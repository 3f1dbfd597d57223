import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { contextFrom, outgoingCarrier, traceIdOf } from "../../runtime/trace-context.ts";

describe("trace context", () => {
  it("ignores an invalid traceparent", () => {
    expect(
      trace.getSpanContext(contextFrom({ traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" })),
    ).toBeUndefined();
    expect(trace.getSpanContext(contextFrom({ traceparent: "garbage" }))).toBeUndefined();
    expect(trace.getSpanContext(contextFrom({}))).toBeUndefined();
  });

  it("reads a traceparent and its tracestate as a remote parent", () => {
    const parent = trace.getSpanContext(
      contextFrom({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "k=v" }),
    );
    expect(parent).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", isRemote: true, traceFlags: 1 });
    expect(parent?.traceState?.get("k")).toBe("v");
  });

  it("keeps an event's own context when no span is active", () => {
    const own = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
    expect(outgoingCarrier(own)).toBe(own);
    expect(traceIdOf(own.traceparent)).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });
});
