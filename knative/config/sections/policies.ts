/**
 * Section `policies`: named task contracts (ARCHITECTURE.md, "Task contracts and the policy gate") an instance runs
 * under: allowed and denied tools (deny wins; `<skill>.<tool>`, `<skill>.*` or a group such as `k8s:read`), approvals,
 * budgets, retry and termination. The shape is the event catalog's TaskContract, so a run.requested's stricter contract
 * and a configured policy are the same thing; the agent engineer refines it there.
 */
import { z } from "zod";
import { TaskContract } from "../../../eventing/catalog/contract.ts";
import { ComponentName } from "../primitives.ts";

const Policy = TaskContract.extend({
  description: z.string().max(1024).optional(),
});

export const policiesSection = {
  policies: z.record(ComponentName, Policy).default({}),
};
