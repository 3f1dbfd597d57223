import { createHash } from "node:crypto";
import { MemoryClient } from "../../clients/memory/client.ts";
import { type KeyValueState, MemoryKeyValue } from "../../clients/memory/key-value.ts";
import { InFlightError, LEASE_SECONDS, runOnce } from "../../clients/memory/run-once.ts";
import { ToolOutcome } from "../../eventing/catalog/index.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { platformEnv } from "../../runtime/platform-env.ts";
import { capErrorDetails, capResult } from "./result-cap.ts";

/**
 * The record, shared by every replica of a skill, of the mutating calls it has run: a redelivered tool.requested
 * (the broker retries at least once, and any replica may get the retry) is answered from the recorded outcome instead
 * of acting a second time. It is runOnce (clients/memory/run-once.ts) in the memory service, in the skill's own
 * key-value namespace `skill-<name>`: a claim while the tool runs, then the outcome until the call's capability token
 * expires (after that the token is refused before anything runs, so no retry can act again).
 *
 * Read-only tools are not recorded: running one again is harmless, and the replica's own cache answers most retries.
 */
/**
 * A recorded result is cut further than a reply: as base64 it must fit one memory-service value (64 KiB). The agent
 * keeps at most 32 KiB of a result anyway (functions/agent/run/results.ts), so the model loses nothing by it.
 */
const RECORDED_RESULT_BYTES = 40 * 1024;

/** Kept past the token's expiry for clocks that disagree a little. */
const KEEP_MARGIN_SECONDS = 300;

export type RecordVerdict =
  | { kind: "ran"; outcome: ToolOutcome }
  | { kind: "recorded"; outcome: ToolOutcome }
  /** The record could not be read or claimed: nothing ran. */
  | { kind: "unavailable" };

export interface CallRecordKey {
  skill: string;
  runId: string;
  callId: string;
  attempt: number;
  /** The delivered event's data: a replayed id with other data is another call. */
  data: Uint8Array | undefined;
}

export class CallRecords {
  readonly #kv: KeyValueState;

  constructor(kv: KeyValueState) {
    this.#kv = kv;
  }

  /**
   * Run `execute` unless this call already ran (answer its outcome) or runs right now on another replica (a 409 the
   * broker retries, through runOnce's InFlightError). A call whose record cannot be reached does not run: a mutating
   * tool must not risk acting twice, so the caller answers a retryable `Unavailable`.
   */
  async once(
    key: CallRecordKey,
    timing: { keepUntil: number; now: number },
    execute: () => Promise<ToolOutcome>,
  ): Promise<RecordVerdict> {
    let ran: ToolOutcome | undefined;
    const options = {
      // Renewed while the tool runs, however long: a crashed replica's claim blocks retries one lease at most.
      leaseSeconds: LEASE_SECONDS,
      keepSeconds: Math.max(60, Math.ceil((timing.keepUntil - timing.now) / 1000) + KEEP_MARGIN_SECONDS),
    };
    try {
      const result = await runOnce(
        this.#kv,
        recordKey(key),
        options,
        async () => {
          ran = await execute();
          return ran;
        },
        encodeRecord,
      );
      return result.fresh
        ? { kind: "ran", outcome: result.value }
        : { kind: "recorded", outcome: decodeRecord(result.recorded) };
    } catch (error) {
      // The tool ran but its outcome could not be recorded: answer it all the same (a retry would find the claim and
      // wait for its lease, not act at once).
      if (ran !== undefined) return { kind: "ran", outcome: ran };
      if (error instanceof InFlightError) throw error;
      return { kind: "unavailable" };
    }
  }
}

/** The records of a skill whose env names the memory service (URL and token); undefined without one. */
export function callRecordsFromEnv(env: FunctionEnv, skill: string): CallRecords | undefined {
  const baseUrl = platformEnv.read(env, "memoryUrl");
  const token = platformEnv.read(env, "memoryToken");
  if (baseUrl === undefined || token === undefined) return undefined;
  const client = new MemoryClient({ baseUrl, token, timeoutMs: 5_000, retries: 2 });
  return new CallRecords(new MemoryKeyValue(client, `skill-${skill}`));
}

function recordKey(key: CallRecordKey): string {
  const digest = createHash("sha256")
    .update(key.data ?? new Uint8Array())
    .digest("base64url");
  return `call:${key.skill}:${key.runId}:${key.callId}:${key.attempt}:${digest}`;
}

function encodeRecord(outcome: ToolOutcome): string {
  const kept: ToolOutcome = outcome.ok
    ? capResult(outcome.result, RECORDED_RESULT_BYTES)
    : { ok: false, error: capErrorDetails(outcome.error, RECORDED_RESULT_BYTES) };
  return Buffer.from(JSON.stringify(kept)).toString("base64");
}

/** Validated like any outcome: a record is read back from outside the process. */
function decodeRecord(recorded: string): ToolOutcome {
  return ToolOutcome.parse(JSON.parse(Buffer.from(recorded, "base64").toString("utf8")));
}
