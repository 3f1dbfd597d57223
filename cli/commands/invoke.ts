import type { Command } from "commander";
import { type GatewayOptions, gatewayClient } from "../gateway-client.ts";
import { failedError, type RunView } from "./runs.ts";

/**
 * `knclaw invoke <instance> <task...>`: start a run through the gateway (POST /api/v1/instances/{instance}/runs) and
 * wait up to --wait seconds for its outcome (`Prefer: wait=N`; the gateway caps it at its maxWaitSeconds). A finished
 * run prints its answer; an unfinished one prints its id, to follow with `knclaw runs events <id>`. URL and token as
 * every gateway command finds them (cli/gateway-client.ts).
 */
export interface InvokeOptions extends GatewayOptions {
  /** Seconds to wait for the outcome; 0 returns the run id at once. Default 60. */
  wait?: string | number;
  /** Continue a conversation: runs with the same session key share history (scoped to the token). */
  sessionKey?: string;
  /** One run per key and token, however often the request is sent. */
  idempotencyKey?: string;
}

export interface InvokeResult {
  /** The gateway answered with the outcome (200) rather than just the run id (202). */
  finished: boolean;
  run: RunView;
}

const DEFAULT_WAIT_SECONDS = 60;
const INSTANCE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function waitSeconds(value: string | number | undefined): number {
  if (value === undefined) return DEFAULT_WAIT_SECONDS;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600) {
    throw new Error(`--wait takes whole seconds from 0 to 3600, not ${JSON.stringify(String(value))}`);
  }
  return seconds;
}

export async function invokeRun(instance: string, task: string, options: InvokeOptions): Promise<InvokeResult> {
  if (!INSTANCE.test(instance)) throw new Error(`${JSON.stringify(instance)} is not an instance name`);
  if (task.trim() === "") throw new Error("the task is empty");
  const wait = waitSeconds(options.wait);
  const headers: Record<string, string> = {};
  if (wait > 0) headers.prefer = `wait=${wait}`;
  if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
  const response = await gatewayClient(options).request<RunView>("POST", `/api/v1/instances/${instance}/runs`, {
    json: { task, ...(options.sessionKey !== undefined ? { sessionKey: options.sessionKey } : {}) },
    headers,
    // The gateway holds the request up to `wait` seconds: give it that plus room to answer.
    timeoutMs: (wait + 30) * 1000,
  });
  const run = response.body;
  return { finished: run.status === "completed" || run.status === "failed", run };
}

export function registerInvokeCommand(program: Command): void {
  program
    .command("invoke <instance> <task...>")
    .description("ask an agent instance to do a task through the gateway; prints the answer (or the run id)")
    .option(
      "-w, --wait <seconds>",
      `how long to wait for the answer (0: print the run id at once)`,
      String(DEFAULT_WAIT_SECONDS),
    )
    .option("-s, --session-key <key>", "continue the conversation of earlier runs with this key")
    .option("--idempotency-key <key>", "start at most one run for this key (safe to retry)")
    .option("--json", "print the API's JSON")
    .option("--url <url>", "gateway base URL (default $KNCLAW_GATEWAY_URL or the local knclaw dev port)")
    .option(
      "--token-file <file>",
      "read the gateway token from this file (default $KNCLAW_GATEWAY_TOKEN, else knclaw dev's session file)",
    )
    .action(async (instance: string, words: string[], options: InvokeOptions & { json?: boolean }) => {
      const { finished, run } = await invokeRun(instance, words.join(" "), options);
      if (options.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
      if (run.status === "failed") throw failedError(run.runId, run.reason, run.message);
      if (options.json) return;
      if (finished) {
        process.stdout.write(`${run.output ?? ""}\n`);
        return;
      }
      // The id alone on stdout, so `id=$(knclaw invoke --wait 0 ...)` works; the hint goes to stderr.
      process.stdout.write(`${run.runId}\n`);
      process.stderr.write(
        `run ${run.runId} is ${run.status}: follow it with knclaw runs events ${run.runId} (or knclaw runs get ${run.runId})\n`,
      );
    });
}
