import type { ModelToolCall } from "./model.ts";

/**
 * Assembles tool calls from Chat Completions stream deltas, surviving what OpenAI-compatible servers do differently
 * (docs/wire-formats.md, "OpenAI"): OpenAI streams `{index, id, function.name}` once and argument fragments after;
 * Ollama sends each call whole in one chunk and may give every parallel call `index: 0` and an empty `id`; some servers omit `index` or
 * `id`, or send arguments as an object. A delta that names a new id, or a new function name, at an index already
 * holding a call starts a new call.
 */
export interface ToolCallDelta {
  index?: number | null;
  id?: string | null;
  type?: string | null;
  function?: { name?: string | null; arguments?: unknown } | null;
}

interface Building {
  id: string | undefined;
  name: string;
  arguments: string;
}

export class ToolCallAssembler {
  private readonly calls: Building[] = [];
  private readonly byIndex = new Map<number, Building>();

  add(delta: ToolCallDelta): void {
    const index = typeof delta.index === "number" ? delta.index : undefined;
    // Older Ollama sends `"id": ""` for every call: an empty id is no id.
    const id = delta.id || undefined;
    const name = delta.function?.name ?? undefined;
    let current = index === undefined ? this.calls.at(-1) : this.byIndex.get(index);
    const startsNew =
      current === undefined ||
      (id !== undefined && current.id !== undefined && id !== current.id) ||
      (name !== undefined && name !== "" && current.name !== "" && id === undefined && current.arguments !== "");
    if (startsNew) {
      current = { id, name: "", arguments: "" };
      this.calls.push(current);
      if (index !== undefined) this.byIndex.set(index, current);
    }
    const building = current!;
    if (building.id === undefined && id !== undefined) building.id = id;
    if (name !== undefined) building.name += name;
    const fragment = delta.function?.arguments;
    if (typeof fragment === "string") building.arguments += fragment;
    else if (fragment !== undefined && fragment !== null) building.arguments += JSON.stringify(fragment);
  }

  get started(): boolean {
    return this.calls.length > 0;
  }

  finish(): ModelToolCall[] {
    return uniqueCalls(this.calls.filter((call) => call.name !== ""));
  }
}

/** Calls with ids: missing ones are synthesised, duplicates made unique, so every call can be answered by id. */
export function uniqueCalls(
  calls: ReadonlyArray<{ id?: string | undefined; name: string; arguments: string }>,
): ModelToolCall[] {
  const seen = new Set<string>();
  return calls.map((call, position) => {
    let id = call.id !== undefined && /^[a-zA-Z0-9_-]{1,128}$/.test(call.id) ? call.id : `call_${position}`;
    while (seen.has(id)) id = `${id}_${position}`;
    seen.add(id);
    return { id, name: call.name, arguments: call.arguments === "" ? "{}" : call.arguments };
  });
}
