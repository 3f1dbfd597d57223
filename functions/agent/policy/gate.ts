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
 * against the tool's JSON Schema (tools/argument-schema.ts: Ajv, every dialect feature) before anything is signed. A
 * tool whose schema could not be compiled is not in the catalog at all: calling it is `Unavailable`.
 */
export type GateVerdict =
  | { kind: "allow"; tool: CatalogTool; args: Record<string, unknown>; digest: string }
  | { kind: "approve"; tool: CatalogTool; args: Record<string, unknown>; digest: string }
  | { kind: "refuse"; error: ToolError; tool?: CatalogTool };

export function gateCall(call: ModelToolCall, catalog: ToolCatalog, contract: EffectiveContract): GateVerdict {
  const tool = catalog.byModel(call.name);
  if (tool === undefined) {
    const withheld = catalog.withheld.find((entry) => entry.modelName === call.name);
    if (withheld !== undefined) {
      return refuse(
        toolError("Unavailable", `${withheld.ref} is unavailable: ${withheld.reason}`.slice(0, 1000), {
          retryable: false,
        }),
      );
    }
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
  const issues = tool.checkArguments(args);
  if (issues !== undefined) {
    const summary = issues
      .slice(0, 5)
      .map((issue) => `${issue.path}: ${issue.message}`)
      .join("; ");
    return refuse(
      toolError("ValidationFailed", `invalid arguments for ${tool.ref}: ${summary}`.slice(0, 2000), {
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

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}
