import { describe, expect, it } from "vitest";
import { EffectiveContract } from "../../../functions/agent/policy/contract.ts";
import { gateCall } from "../../../functions/agent/policy/gate.ts";
import { matchesPattern } from "../../../functions/agent/policy/patterns.ts";
import { argumentsDigest } from "../../../skills/runtime/canonical-json.ts";
import { catalog, layers } from "./fixtures.ts";

const call = (name: string, args: unknown) => ({
  id: "c1",
  name,
  arguments: typeof args === "string" ? args : JSON.stringify(args),
});

describe("tool patterns", () => {
  const ref = { skill: "kubernetes", tool: "get_pods", groups: ["k8s:read"] };
  it.each([
    ["kubernetes.get_pods", true],
    ["kubernetes.*", true],
    ["*", true],
    ["k8s:read", true],
    ["k8s:write", false],
    ["kubernetes.delete_pod", false],
    ["kubernetes", false],
    ["kube*.get_pods", false],
    ["http.*", false],
  ])("%s -> %s", (pattern, expected) => {
    expect(matchesPattern(pattern, ref)).toBe(expected);
  });
});

describe("policy gate", () => {
  it("allows a permitted call with valid arguments and binds the digest of exactly those arguments", () => {
    const verdict = gateCall(
      call("kubernetes__get_pods", { namespace: "default" }),
      catalog,
      new EffectiveContract(layers({})),
    );
    expect(verdict).toMatchObject({
      kind: "allow",
      args: { namespace: "default" },
      digest: argumentsDigest({ namespace: "default" }),
    });
  });

  it("refuses an unknown tool name, including look-alikes", () => {
    for (const name of ["kubernetes.get_pods", "kubernetes__get_pods ", "KUBERNETES__get_pods", "shell__exec"]) {
      expect(gateCall(call(name, {}), catalog, new EffectiveContract(layers({})))).toMatchObject({
        kind: "refuse",
        error: { class: "NotFound" },
      });
    }
  });

  it("lets deny win over allow, within a layer and across groups", () => {
    const contract = new EffectiveContract(layers({ tools: { allow: ["kubernetes.*"], deny: ["k8s:read"] } }));
    expect(gateCall(call("kubernetes__get_pods", { namespace: "a" }), catalog, contract)).toMatchObject({
      kind: "refuse",
      error: { class: "PermissionDenied", retryable: false },
    });
  });

  it("refuses tools outside an allow list", () => {
    const contract = new EffectiveContract(layers({ tools: { allow: ["k8s:read"] } }));
    expect(gateCall(call("http__fetch", { url: "https://x" }), catalog, contract)).toMatchObject({
      kind: "refuse",
      error: { class: "PermissionDenied", message: expect.stringContaining("not allowed by policy") },
    });
  });

  it("never lets a run contract widen the policy", () => {
    const contract = new EffectiveContract(layers({ tools: { allow: ["k8s:read"] } }, { tools: { allow: ["*"] } }));
    expect(gateCall(call("http__fetch", { url: "https://x" }), catalog, contract).kind).toBe("refuse");
    const narrower = new EffectiveContract(layers({}, { tools: { allow: ["http.fetch"] } }));
    expect(gateCall(call("kubernetes__get_pods", { namespace: "a" }), catalog, narrower)).toMatchObject({
      kind: "refuse",
      error: { message: expect.stringContaining("not allowed by run") },
    });
  });

  it("refuses malformed JSON and non-object arguments as ValidationFailed", () => {
    const contract = new EffectiveContract(layers({}));
    expect(gateCall(call("kubernetes__get_pods", '{"namespace": "de'), catalog, contract)).toMatchObject({
      kind: "refuse",
      error: { class: "ValidationFailed", message: expect.stringContaining("not valid JSON") },
    });
    expect(gateCall(call("kubernetes__get_pods", "[1]"), catalog, contract)).toMatchObject({
      kind: "refuse",
      error: { class: "ValidationFailed" },
    });
  });

  it("validates arguments against the tool's JSON Schema", () => {
    const verdict = gateCall(
      call("kubernetes__get_pods", { namespace: "" }),
      catalog,
      new EffectiveContract(layers({})),
    );
    expect(verdict).toMatchObject({
      kind: "refuse",
      error: { class: "ValidationFailed", details: { issues: [{ path: "namespace" }] } },
    });
    expect(gateCall(call("kubernetes__get_pods", {}), catalog, new EffectiveContract(layers({}))).kind).toBe("refuse");
  });

  it("checks policy before parsing arguments (a denied tool is denied whatever it is given)", () => {
    const contract = new EffectiveContract(layers({ tools: { deny: ["http.*"] } }));
    expect(gateCall(call("http__fetch", "not json"), catalog, contract)).toMatchObject({
      error: { class: "PermissionDenied" },
    });
  });

  it("holds calls for approval by manifest default or by any layer's approval list", () => {
    const none = new EffectiveContract(layers({}));
    expect(gateCall(call("kubernetes__delete_pod", { namespace: "a", name: "b" }), catalog, none).kind).toBe("approve");
    const byRun = new EffectiveContract(layers({}, { approvals: { tools: ["http.fetch"] } }));
    expect(gateCall(call("http__fetch", { url: "https://x" }), catalog, byRun).kind).toBe("approve");
  });
});

describe("effective contract", () => {
  it("takes the smaller limit, the larger backoff, intersects approvers and retry classes, and versions both layers", () => {
    const contract = new EffectiveContract(
      layers(
        {
          budgets: { tokens: 1000, toolCalls: 5 },
          approvals: { approvers: ["slack:U1", "slack:U2"], timeoutSeconds: 600 },
          retry: { maxAttempts: 3, backoffSeconds: 1, retryOn: ["Unavailable", "Timeout"] },
          termination: { maxTurns: 10 },
        },
        {
          budgets: { tokens: 500, modelTurns: 3 },
          approvals: { approvers: ["slack:U2"], timeoutSeconds: 60 },
          retry: { maxAttempts: 5, backoffSeconds: 2, retryOn: ["Timeout"] },
          termination: { maxTurns: 20 },
        },
      ),
    );
    expect(contract.budgets).toEqual({ tokens: 500, toolCalls: 5, modelTurns: 3 });
    expect(contract.approvers).toEqual(["slack:U2"]);
    expect(contract.approvalTimeoutSeconds).toBe(60);
    expect(contract.retry).toEqual({ maxAttempts: 3, backoffSeconds: 2, retryOn: ["Timeout"] });
    expect(contract.maxTurns).toBe(10);
    expect(contract.version).toMatch(/^policy@[0-9a-f]{12}\+run@[0-9a-f]{12}$/);
    expect(contract.shouldRetry("Timeout", true, 1)).toBe(true);
    expect(contract.shouldRetry("Unavailable", true, 1)).toBe(false);
    expect(contract.shouldRetry("Timeout", true, 3)).toBe(false);
    expect(contract.shouldRetry("Timeout", false, 1)).toBe(false);
  });

  it("changes version when the contract changes", () => {
    const a = new EffectiveContract(layers({ budgets: { tokens: 1 } })).version;
    const b = new EffectiveContract(layers({ budgets: { tokens: 2 } })).version;
    expect(a).not.toBe(b);
  });
});
