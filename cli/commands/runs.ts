import type { Command } from "commander";
import { type GatewayOptions, gatewayClient } from "../gateway-client.ts";

/**
 * `knclaw runs get <id>` and `knclaw runs events <id>`: a run started through the gateway (`knclaw invoke`, the API,
 * a chat completion), by its id: its status and outcome (GET /api/v1/runs/{id}), or what it does as it happens (the
 * SSE stream /api/v1/runs/{id}/events, replayed from the start or after an event id, until the run ends).
 */
export interface RunView {
  runId: string;
  instance: string;
  status: "queued" | "running" | "waiting" | "completed" | "failed";
  createdAt: string;
  finishedAt?: string;
  output?: string;
  reason?: string;
  message?: string;
  usage?: { inputTokens: number; outputTokens: number };
  costUsd?: number;
  durationMs?: number;
  links?: { self: string; events: string };
}

export interface RunEvent {
  /** The stream's event id (resume after it with --after). */
  id?: string;
  type: string;
  data: Record<string, unknown>;
}

export interface RunEventsOptions extends GatewayOptions {
  /** Resume after this event id (Last-Event-ID). */
  after?: string;
  signal?: AbortSignal;
}

const RUN_ID = /^[\x21-\x7e]{1,256}$/;

function runPath(id: string): string {
  if (!RUN_ID.test(id)) throw new Error(`${JSON.stringify(id)} is not a run id`);
  return `/api/v1/runs/${encodeURIComponent(id)}`;
}

export async function getRun(id: string, options: GatewayOptions): Promise<RunView> {
  const path = runPath(id);
  return gatewayClient(options).get<RunView>(path);
}

const isTerminal = (type: string) => type === "completed" || type === "failed";

/**
 * Every event of the run, in order, to `onEvent`, until the run's outcome (returned). A stream that ends before it
 * is an error that says how to resume.
 */
export async function followRunEvents(
  id: string,
  options: RunEventsOptions,
  onEvent: (event: RunEvent) => void,
): Promise<RunEvent> {
  const path = `${runPath(id)}/events`;
  if (options.after !== undefined && !/^\d{1,9}$/.test(options.after)) throw new Error("--after takes an event id");
  const headers: Record<string, string> = options.after !== undefined ? { "last-event-id": options.after } : {};
  let last = options.after;
  for await (const sse of gatewayClient(options).events(path, { headers, signal: options.signal })) {
    let data: Record<string, unknown>;
    try {
      const parsed = JSON.parse(sse.data) as unknown;
      data = parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : { value: parsed };
    } catch {
      data = { text: sse.data };
    }
    const event: RunEvent = { ...(sse.id !== undefined ? { id: sse.id } : {}), type: sse.event, data };
    last = sse.id ?? last;
    onEvent(event);
    if (isTerminal(event.type)) return event;
  }
  const resume = last === undefined ? "" : ` --after ${last}`;
  throw new Error(`the event stream ended before the run did: knclaw runs events ${id}${resume}`);
}

// Output -------------------------------------------------------------------------------------------------------

const text = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function usageLine(run: { usage?: unknown; costUsd?: unknown; durationMs?: unknown }): string | undefined {
  const usage = run.usage as RunView["usage"] | undefined;
  if (usage === undefined) return undefined;
  const cost = typeof run.costUsd === "number" ? `, $${run.costUsd.toFixed(4)}` : "";
  const duration = typeof run.durationMs === "number" ? `, ${run.durationMs} ms` : "";
  return `${usage.inputTokens} in / ${usage.outputTokens} out tokens${cost}${duration}`;
}

function formatRun(run: RunView): string {
  const lines = [`run:       ${run.runId}`, `instance:  ${run.instance}`, `status:    ${run.status}`];
  lines.push(`created:   ${run.createdAt}`);
  if (run.finishedAt !== undefined) lines.push(`finished:  ${run.finishedAt}`);
  const usage = usageLine(run);
  if (usage !== undefined) lines.push(`usage:     ${usage}`);
  if (run.reason !== undefined) lines.push(`reason:    ${run.reason}${run.message ? `: ${run.message}` : ""}`);
  if (run.output !== undefined) lines.push("output:", run.output);
  return lines.join("\n");
}

function formatRunEvent(event: RunEvent): string {
  const d = event.data;
  const at = typeof d.at === "string" ? `${d.at}  ` : "";
  switch (event.type) {
    case "message": {
      const buttons = Array.isArray(d.buttons)
        ? `  [buttons: ${d.buttons.map((b) => text((b as { label?: unknown })?.label ?? b)).join(", ")}]`
        : "";
      return `${at}message: ${text(d.text)}${buttons}`;
    }
    case "approval":
      return `${at}approval ${text(d.approvalId)}: ${text(d.skill)}.${text(d.tool)} ${JSON.stringify(d.arguments)}${d.reason !== undefined ? ` (${text(d.reason)})` : ""}, expires ${text(d.expiresAt)}`;
    case "approval_resolved":
      return `${at}approval ${text(d.approvalId)} ${text(d.outcome)}${d.decidedBy !== undefined ? ` by ${text(d.decidedBy)}` : ""}${d.reason !== undefined ? ` (${text(d.reason)})` : ""}`;
    case "completed": {
      const usage = usageLine(d);
      return `${at}completed${usage ? ` (${usage})` : ""}: ${text(d.output)}`;
    }
    case "failed":
      return `${at}failed (${text(d.reason)}): ${text(d.message)}`;
    default:
      return `${at}${event.type}: ${JSON.stringify(d)}`;
  }
}

export function failedError(id: string, reason: unknown, message: unknown): Error {
  return new Error(`run ${id} failed (${text(reason)}): ${text(message)}`);
}

export function registerRunsCommand(program: Command): void {
  const runs = program.command("runs").description("look at runs started through the gateway (knclaw invoke, the API)");
  const common = (command: Command) =>
    command
      .option("--url <url>", "gateway base URL (default $KNCLAW_GATEWAY_URL or the local knclaw dev port)")
      .option(
        "--token-file <file>",
        "read the gateway token from this file (default $KNCLAW_GATEWAY_TOKEN, else knclaw dev's session file)",
      );
  common(runs.command("get <id>").description("status and outcome of a run"))
    .option("--json", "print the API's JSON")
    .action(async (id: string, options: GatewayOptions & { json?: boolean }) => {
      const run = await getRun(id, options);
      process.stdout.write(options.json ? `${JSON.stringify(run, null, 2)}\n` : `${formatRun(run)}\n`);
    });
  common(runs.command("events <id>").description("what a run does (messages, approvals, outcome) until it ends"))
    .option("--after <event-id>", "resume after this event id")
    .option("--json", "one JSON object per event")
    .action(async (id: string, options: RunEventsOptions & { json?: boolean }) => {
      const outcome = await followRunEvents(id, options, (event) => {
        process.stdout.write(`${options.json ? JSON.stringify(event) : formatRunEvent(event)}\n`);
      });
      if (outcome.type === "failed") throw failedError(id, outcome.data.reason, outcome.data.message);
    });
}
