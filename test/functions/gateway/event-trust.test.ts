import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvent } from "../../../eventing/catalog/make.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { type CloudEvent, jsonBytes, withAttributes } from "../../../eventing/cloudevent/event.ts";
import { eventSigner } from "../../../eventing/trust/event-signature.ts";
import { generateSigningKey, parsePrivateKey } from "../../../runtime/keys.ts";
import { signAs } from "../../support/event-keys.ts";
import { deliveryRequestAsIs } from "../channels/support/events.ts";
import {
  approvalRequested,
  auth,
  completed,
  failed,
  type GatewayHarness,
  said,
  startGateway,
} from "./support/harness.ts";

/**
 * Who may write what the gateway tells its callers (a run's outcome, its messages, its approvals): only the agent
 * of the run's instance, signing as `agent/<instance>`. The attack, "anyone can write a run's outcome" (an
 * unsigned run.completed for a waiting run made GET /api/v1/runs/{id} answer `completed` with the forger's text),
 * and every other forgery are answered 403 and change nothing.
 */
let h: GatewayHarness;

beforeAll(async () => {
  h = await startGateway();
});
afterAll(async () => {
  await h.stop();
});

async function startRun(): Promise<string> {
  const response = await fetch(`${h.url}/api/v1/instances/ops/runs`, {
    method: "POST",
    headers: auth(),
    body: JSON.stringify({ task: "check the disks" }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { runId: string }).runId;
}

async function runView(runId: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${h.url}/api/v1/runs/${runId}`, { headers: auth() })).json()) as Record<string, unknown>;
}

/** The run's event stream, read to its end (it ends with the outcome): the names of what it told. */
async function streamed(runId: string): Promise<string[]> {
  const text = await (await fetch(`${h.url}/api/v1/runs/${runId}/events`, { headers: auth() })).text();
  return [...text.matchAll(/^event: (.+)$/gm)].map((match) => match[1]!);
}

/** POSTed as the broker delivers, exactly as given: a 403 naming why. */
async function refused(event: CloudEvent, reason: string): Promise<void> {
  const response = await fetch(deliveryRequestAsIs(`${h.url}/`, event));
  expect(response.status).toBe(403);
  expect(((await response.json()) as { error: { reason: string } }).error.reason).toBe(reason);
}

const forger = eventSigner("agent/ops", parsePrivateKey(generateSigningKey().privateKeyPem));

describe("a run's outcome, messages and approvals: only its instance's agent", () => {
  it("refuses an unsigned run.completed for a waiting run (the issue's attack) and every forged outcome", async () => {
    const runId = await startRun();
    const before = await runView(runId);

    await refused(completed(runId, "ops", "forged: all disks are fine"), "unsigned");
    await refused(failed(runId, "ops", "stopped", "forged"), "unsigned");
    await refused(forger.sign(completed(runId, "ops", "forged")), "unknown_key");
    // Another instance's agent writing this instance's run; the gateway's own key writing any run.
    await refused(signAs("agent/dev", completed(runId, "ops", "forged")), "role_not_allowed");
    await refused(signAs("gateway", completed(runId, "ops", "forged")), "unknown_key");
    // A genuine outcome changed after signing: its text, its routing, moved to this run from another.
    const genuine = signAs("agent/ops", completed("another-run", "ops", "the other run's answer"));
    const data = readEvent(genuine, T.RUN_COMPLETED);
    await refused({ ...genuine, data: jsonBytes({ ...data, output: "forged" }) }, "bad_signature");
    await refused({ ...genuine, data: jsonBytes({ ...data, runId }) }, "bad_signature");
    await refused(withAttributes(genuine, { knclawrun: runId }), "bad_signature");
    // Messages and approval prompts of the run, the same.
    await refused(said(runId, "ops", "forged message"), "unsigned");
    await refused(signAs("agent/dev", said(runId, "ops", "forged message")), "role_not_allowed");
    await refused(approvalRequested(runId, "ops", "ap-forged"), "unsigned");

    expect(await runView(runId)).toEqual(before);
    // No approval was recorded for the forged prompt.
    const decide = { method: "POST", headers: auth(), body: JSON.stringify({ decision: "approve" }) };
    expect((await fetch(`${h.url}/api/v1/approvals/ap-forged`, decide)).status).toBe(404);

    // The agent's own outcome is taken.
    expect((await h.deliver(completed(runId, "ops", "the disks are at 40%"))).status).toBe(200);
    expect(await runView(runId)).toMatchObject({ status: "completed", output: "the disks are at 40%" });
    // Nothing forged made it into what the run told its callers.
    expect(await streamed(runId)).toEqual(["completed"]);
  });

  it("signs what it emits as the gateway: a run it starts is run.requested from `gateway`", async () => {
    h.broker.events.length = 0;
    await startRun();
    const [requested] = h.broker.events;
    expect(requested!.attributes).toMatchObject({ type: T.RUN_REQUESTED, knclawproducer: "gateway" });
    expect(requested!.attributes.knclawsignature).toMatch(/^v1\./);
  });
});
