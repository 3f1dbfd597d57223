import type { ToolContext } from "../../../skills/package/tool.ts";

/** A tool context as the runtime builds it after a capability token verified, for calling handlers directly. */
export function toolContext(overrides: Partial<ToolContext> = {}): ToolContext {
  return {
    runId: "run-1",
    callId: "call-1",
    instance: "assistant",
    skill: "test",
    tool: "test",
    attempt: 1,
    signal: new AbortController().signal,
    deadline: Date.now() + 60_000,
    env: {},
    ...overrides,
  };
}
