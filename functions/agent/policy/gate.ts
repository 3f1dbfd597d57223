import { z } from "zod";
import type { ToolError } from "../../../eventing/catalog/index.ts";
import { argumentsDigest } from "../../../skills/runtime/canonical-json.ts";
import { toolError } from "../../../skills/runtime/tool-error.ts";
import type { ModelToolCall } from "../providers/model.ts";
import type { CatalogTool, ToolCatalog } from "../tools/catalog.ts";
import type { EffectiveContract } from "./contract.ts";

/**
 * The policy gate (ARCHITECTURE.md, "Task contracts and the policy gate": the planner proposes, the executor decides).
 * A pure function of the model's call, the instance's tool catalog and the run's contract: refuse (with a typed error
 * the model is told), hold for approval, or allow. Nothing in the call can widen what the contract allows: the tool is
 * found in a table by its exact name, policy is checked before arguments are even parsed, and arguments are validated
 * against the tool's JSON Schema before anything is signed.
 */
export type GateVerdict =
  | { kind: "allow"; tool: CatalogTool; args: Record<string, unknown>; digest: string }
  | { kind: "approve"; tool: CatalogTool; args: Record<string, unknown>; digest: string }
  | { kind: "refuse"; error: ToolError; tool?: CatalogTool };

export function gateCall(call: ModelToolCall, catalog: ToolCatalog, contract: EffectiveContract): GateVerdict {
  const tool = catalog.byModel(call.name);
  if (tool === undefined) {
    return refuse(toolError("NotFound", `no tool named ${printable(call.name)} is available to this agent`));
  }
  const refusal = contract.refusal(tool);
  if (refusal !== undefined) {
    return refuse(
      toolError("PermissionDenied", `the policy refuses ${tool.ref} (${refusal})`, { retryable: false }),
      tool,
    );
  }
  let args: unknown;
  try {
    args = JSON.parse(call.arguments === "" ? "{}" : call.arguments);
  } catch {
    return refuse(
      toolError("ValidationFailed", `the arguments are not valid JSON: ${printable(call.arguments.slice(0, 200))}`),
      tool,
    );
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    return refuse(toolError("ValidationFailed", "the arguments must be a JSON object"), tool);
  }
  const issues = validate(tool, args);
  if (issues !== undefined) {
    const first = issues[0]!;
    return refuse(
      toolError("ValidationFailed", `invalid arguments for ${tool.ref}: ${first.path}: ${first.message}`, {
        details: { issues },
      }),
      tool,
    );
  }
  const record = args as Record<string, unknown>;
  const digest = argumentsDigest(record);
  if (contract.needsApproval(tool, tool.descriptor.approval)) return { kind: "approve", tool, args: record, digest };
  return { kind: "allow", tool, args: record, digest };
}

function refuse(error: ToolError, tool?: CatalogTool): GateVerdict {
  return tool === undefined ? { kind: "refuse", error } : { kind: "refuse", error, tool };
}

const validators = new WeakMap<object, z.ZodType | null>();

/** Issues against the tool's JSON Schema, or undefined when the arguments are valid. */
export function validate(tool: CatalogTool, args: unknown): Array<{ path: string; message: string }> | undefined {
  let validator = validators.get(tool.descriptor.inputSchema);
  if (validator === undefined) {
    try {
      validator = z.fromJSONSchema(tool.descriptor.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      // A schema zod cannot read (an exotic external one) is checked for its object shape only; the skill validates too.
      validator = null;
    }
    validators.set(tool.descriptor.inputSchema, validator);
  }
  if (validator === null) return undefined;
  const parsed = validator.safeParse(args);
  if (parsed.success) return undefined;
  return parsed.error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}
