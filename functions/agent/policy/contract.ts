import { createHash } from "node:crypto";
import type { TaskContract, ToolErrorClass } from "../../../eventing/catalog/index.ts";
import { canonicalJson } from "../../../skills/runtime/canonical-json.ts";
import { matchesAny, type ToolRef } from "./patterns.ts";

/**
 * The contract a run is held to: the instance's policy and, when the run brought one, the run's own contract. Every
 * layer must allow a call (deny wins within and across layers), so a run contract can only narrow the policy, never
 * widen it. Numeric limits take the smaller value, approval requirements add up, approver lists intersect.
 */
export interface ContractLayer {
  name: string;
  contract: TaskContract;
}

export interface RetryPolicy {
  maxAttempts: number;
  backoffSeconds: number;
  retryOn: readonly ToolErrorClass[] | undefined;
}

export type Budgets = NonNullable<TaskContract["budgets"]>;

const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 3600;

export class EffectiveContract {
  readonly layers: readonly ContractLayer[];
  readonly version: string;
  readonly budgets: Budgets;
  readonly retry: RetryPolicy;
  readonly maxTurns: number | undefined;
  readonly maxConsecutiveToolFailures: number | undefined;
  readonly approvalTimeoutSeconds: number;
  /** Who may approve; undefined means no layer named anyone (then the person who started the run may). */
  readonly approvers: readonly string[] | undefined;

  constructor(layers: readonly ContractLayer[]) {
    this.layers = layers;
    this.version = layers.map((layer) => `${layer.name}@${hash(layer.contract)}`).join("+");
    const contracts = layers.map((layer) => layer.contract);
    const budgets: Budgets = {};
    for (const key of BUDGET_KEYS) {
      const value = smallest(contracts.map((c) => c.budgets?.[key]));
      if (value !== undefined) budgets[key] = value;
    }
    this.budgets = budgets;
    const retryOnLists = contracts.map((c) => c.retry?.retryOn).filter((list) => list !== undefined);
    this.retry = {
      maxAttempts: smallest(contracts.map((c) => c.retry?.maxAttempts)) ?? 1,
      backoffSeconds: largest(contracts.map((c) => c.retry?.backoffSeconds)) ?? 0,
      retryOn:
        retryOnLists.length === 0
          ? undefined
          : retryOnLists.reduce((kept, list) => kept.filter((errorClass) => list.includes(errorClass))),
    };
    this.maxTurns = smallest(contracts.map((c) => c.termination?.maxTurns));
    this.maxConsecutiveToolFailures = smallest(contracts.map((c) => c.termination?.maxConsecutiveToolFailures));
    this.approvalTimeoutSeconds =
      smallest(contracts.map((c) => c.approvals?.timeoutSeconds)) ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS;
    const approverLists = contracts.map((c) => c.approvals?.approvers).filter((list) => list !== undefined);
    this.approvers =
      approverLists.length === 0
        ? undefined
        : approverLists.reduce((kept, list) => kept.filter((approver) => list.includes(approver)));
  }

  /** Undefined when every layer allows the tool; otherwise why not. */
  refusal(ref: ToolRef): string | undefined {
    for (const layer of this.layers) {
      const tools = layer.contract.tools;
      if (matchesAny(tools?.deny, ref)) return `denied by ${layer.name}`;
      if (tools?.allow !== undefined && !matchesAny(tools.allow, ref)) return `not allowed by ${layer.name}`;
    }
    return undefined;
  }

  needsApproval(ref: ToolRef, manifestDefault: boolean): boolean {
    return manifestDefault || this.layers.some((layer) => matchesAny(layer.contract.approvals?.tools, ref));
  }

  shouldRetry(errorClass: ToolErrorClass, retryable: boolean, attempt: number): boolean {
    if (!retryable || attempt >= this.retry.maxAttempts) return false;
    return this.retry.retryOn === undefined || this.retry.retryOn.includes(errorClass);
  }
}

const BUDGET_KEYS = [
  "tokens",
  "costUsd",
  "toolCalls",
  "modelTurns",
  "wallClockSeconds",
  "concurrentRunsPerInstance",
  "concurrentRunsPerSender",
] as const;

function smallest(values: ReadonlyArray<number | undefined>): number | undefined {
  const defined = values.filter((value): value is number => value !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}

function largest(values: ReadonlyArray<number | undefined>): number | undefined {
  const defined = values.filter((value): value is number => value !== undefined);
  return defined.length === 0 ? undefined : Math.max(...defined);
}

function hash(contract: TaskContract): string {
  return createHash("sha256").update(canonicalJson(contract)).digest("hex").slice(0, 12);
}
