import type { AuditEntry } from "../../../clients/memory/contract/audit.ts";
import type { DeadLetter, DeadLetterSummary } from "../../../clients/memory/contract/dead-letters.ts";
import type { PairingRecord } from "../../../clients/memory/contract/people.ts";
import { RUN_STATUSES, type Run } from "../../../clients/memory/contract/runs.ts";
import { csrfField, type Html, html, type PageUser, time, usd } from "./layout.ts";
import type { RunDocument } from "./run-document.ts";

/** The console's pages, server-rendered; console.js only swaps in fragments the server rendered (live updates). */

export function loginView(error?: string): Html {
  return html`<form method="post" action="/console/login" class="login">
    ${error === undefined ? "" : html`<p class="error" role="alert">${error}</p>`}
    <label for="token">Gateway token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
    <p class="hint">A token from <code>gateway.tokens</code>; <code>knclaw dev</code> prints the file that holds its token.</p>
    <button type="submit">Sign in</button>
  </form>`;
}

export interface RunFilters {
  instance?: string;
  status?: string;
}

function filterQuery(filters: RunFilters, cursor?: string): string {
  const query = new URLSearchParams();
  if (filters.instance) query.set("instance", filters.instance);
  if (filters.status) query.set("status", filters.status);
  if (cursor) query.set("cursor", cursor);
  const text = query.toString();
  return text ? `?${text}` : "";
}

export function runRows(runs: Run[]): Html {
  if (runs.length === 0) return html`<tr><td colspan="7">No runs yet.</td></tr>`;
  return html`${runs.map((run) => {
    const state = run.state as Partial<RunDocument>;
    const tokens = state.usage === undefined ? "" : String(state.usage.inputTokens + state.usage.outputTokens);
    return html`<tr data-run="${run.id}">
      <td><a href="/console/runs/${run.id}">${run.id}</a></td>
      <td>${run.instance}</td>
      <td><span class="status status-${run.status}">${run.status}</span></td>
      <td>${time(run.createdAt)}</td>
      <td>${state.turns ?? ""}</td>
      <td>${tokens}</td>
      <td>${usd(state.costUsd)}</td>
    </tr>`;
  })}`;
}

export function runsView(input: {
  instances: readonly string[];
  filters: RunFilters;
  runs: Run[];
  next?: string;
  paged: boolean;
}): Html {
  const { filters } = input;
  const live = input.paged ? "" : `/console/runs/stream${filterQuery(filters)}`;
  return html`<form method="get" action="/console/runs" class="filters">
      <label for="filter-instance">Instance</label>
      <select id="filter-instance" name="instance">
        <option value="">all</option>
        ${input.instances.map(
          (name) => html`<option value="${name}"${name === filters.instance ? html` selected` : ""}>${name}</option>`,
        )}
      </select>
      <label for="filter-status">Status</label>
      <select id="filter-status" name="status">
        <option value="">any</option>
        ${RUN_STATUSES.map(
          (status) =>
            html`<option value="${status}"${status === filters.status ? html` selected` : ""}>${status}</option>`,
        )}
      </select>
      <button type="submit">Filter</button>
    </form>
    <p class="live" id="live-state" aria-live="polite">${input.paged ? "Older runs (not live)." : "Live: new runs appear as they start."}</p>
    <table class="runs">
      <caption class="visually-hidden">Runs, newest first</caption>
      <thead>
        <tr><th scope="col">Run</th><th scope="col">Instance</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Turns</th><th scope="col">Tokens</th><th scope="col">Cost</th></tr>
      </thead>
      <tbody id="runs-rows" data-stream="${live}">${runRows(input.runs)}</tbody>
    </table>
    <nav aria-label="Pages" class="pages">
      ${input.paged ? html`<a href="/console/runs${filterQuery(filters)}">Newest runs</a>` : ""}
      ${input.next === undefined ? "" : html`<a href="/console/runs${filterQuery(filters, input.next)}">Older runs</a>`}
    </nav>`;
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * `<skill>.<tool>` from the model-facing name the agent gave the tool (`<skill>__<tool>`, functions/agent/tools/
 * catalog.ts); a name shortened with a hash stays as it is.
 */
function toolReference(modelName: string): string {
  const parts = modelName.split("__");
  return parts.length === 2 ? `${parts[0]}.${parts[1]}` : modelName;
}

/** The trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`). */
function traceIdOf(traceparent: string | undefined): string | undefined {
  return /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent ?? "")?.[1];
}

function approvalForm(approvalId: string, user: PageUser, back: string): Html {
  return html`<form method="post" action="/console/approvals/${approvalId}" class="decide">
    ${csrfField(user)}<input type="hidden" name="back" value="${back}" />
    <button type="submit" name="decision" value="approve" class="approve">Approve</button>
    <button type="submit" name="decision" value="deny" class="deny">Deny</button>
  </form>`;
}

/**
 * How the signed-in token stands towards a held call the gateway was asked about (absent: another channel's): it may
 * decide it (open, and the token among its approvers), or not, and then who may (the approvers the agent named).
 */
export interface ApprovalAccess {
  mayDecide: boolean;
  approvers?: readonly string[];
}

/** Approve/Deny only for a token the API would take the decision from; otherwise who decides it, and where. */
function decideOrHint(access: ApprovalAccess | undefined, approvalId: string, user: PageUser, back: string): Html {
  if (access === undefined) return html`<p class="hint">This run answers on another channel: decide it there.</p>`;
  if (access.mayDecide) return approvalForm(approvalId, user, back);
  const who = access.approvers?.length ? html` (${access.approvers.join(", ")})` : "";
  return html`<p class="hint not-approver">You (<code>http:${user.tokenName}</code>) may not decide this call: only its approvers${who} can.</p>`;
}

export function timelineView(
  run: Run,
  doc: Partial<RunDocument>,
  audit: AuditEntry[],
  user: PageUser,
  access: ReadonlyMap<string, ApprovalAccess>,
): Html {
  const turns = doc.turnLog ?? [];
  const pending = new Map((doc.pending ?? []).map((call) => [call.providerId, call]));
  const results = new Map(
    (doc.transcript ?? []).flatMap((message) => (message.role === "tool" ? [[message.callId, message] as const] : [])),
  );
  const traceId = traceIdOf(doc.trace?.traceparent);
  const items: Html[] = [];
  if (doc.userText !== undefined) {
    items.push(
      html`<li class="item message"><h3>Message${doc.requester ? html` from ${doc.requester.channel}:${doc.requester.id}` : ""}</h3><p class="text">${doc.userText}</p></li>`,
    );
  }
  let turnIndex = 0;
  const turnMeta = (index: number) => {
    const turn = turns[index];
    if (turn === undefined) return html`<p class="meta">Turn ${index + 1}</p>`;
    return html`<p class="meta">Turn ${turn.turn} · ${time(turn.at)} · ${turn.inputTokens} in / ${turn.outputTokens} out tokens · ${usd(turn.costUsd)}${turn.latencyMs === undefined ? "" : html` · ${turn.latencyMs} ms`} · ${turn.finishReason}</p>`;
  };
  for (const message of doc.transcript ?? []) {
    if (message.role !== "assistant") continue;
    const calls = (message.toolCalls ?? []).map((call) => {
      const result = results.get(call.id);
      const state = pending.get(call.id);
      const errorClass = state?.result?.errorClass;
      let outcome: Html;
      if (result !== undefined) {
        outcome = html`<div class="${result.isError ? "result error" : "result"}"><h5>${result.isError ? html`Error${errorClass ? html` <code>${errorClass}</code>` : ""}` : "Result"}</h5><pre>${pretty(result.content)}</pre></div>`;
      } else if (state?.status === "awaiting_approval" && state.approval !== undefined) {
        outcome = html`<div class="held"><h5>Held for approval</h5><p>Approval <code>${state.approval.id}</code>, expires ${time(state.approval.expiresAt)}${state.approval.approvers ? html`; approvers: ${state.approval.approvers.join(", ")}` : ""}</p>
          ${decideOrHint(access.get(state.approval.id), state.approval.id, user, `/console/runs/${run.id}`)}</div>`;
      } else {
        outcome = html`<p class="meta">Running${state?.attempt && state.attempt > 1 ? html` (attempt ${state.attempt})` : ""}…</p>`;
      }
      return html`<li class="call"><h4>Tool call <code>${state?.ref ?? toolReference(call.name)}</code></h4><pre class="args">${pretty(call.arguments)}</pre>${outcome}</li>`;
    });
    items.push(
      html`<li class="item turn"><h3>Model turn</h3>${turnMeta(turnIndex)}${message.content ? html`<p class="text">${message.content}</p>` : ""}${calls.length > 0 ? html`<ul class="calls">${calls}</ul>` : ""}</li>`,
    );
    turnIndex += 1;
  }
  // The final answer is the last model turn's text already; the outcome repeats it only when it differs (cut short).
  const lastAnswer = (doc.transcript ?? []).findLast((message) => message.role === "assistant")?.content;
  if (doc.outcome !== undefined) {
    if (turnIndex < turns.length) {
      items.push(html`<li class="item turn"><h3>Model turn</h3>${turnMeta(turns.length - 1)}</li>`);
    }
    items.push(
      doc.outcome.status === "completed"
        ? html`<li class="item outcome completed"><h3>Completed</h3>${doc.outcome.output === lastAnswer ? "" : html`<p class="text">${doc.outcome.output}</p>`}</li>`
        : html`<li class="item outcome failed"><h3>Failed: <code>${doc.outcome.reason ?? "failed"}</code></h3><p class="text">${doc.outcome.message ?? doc.outcome.output}</p></li>`,
    );
  }
  const finished = run.status === "completed" || run.status === "failed" || run.status === "cancelled";
  return html`<dl class="facts">
      <dt>Status</dt><dd><span class="status status-${run.status}">${run.status}</span></dd>
      <dt>Instance</dt><dd>${run.instance}</dd>
      <dt>Model</dt><dd>${doc.model ?? ""}</dd>
      <dt>Started</dt><dd>${time(run.createdAt)}</dd>
      <dt>Tokens</dt><dd>${doc.usage ? `${doc.usage.inputTokens} in / ${doc.usage.outputTokens} out` : ""}</dd>
      <dt>Cost</dt><dd>${usd(doc.costUsd)}</dd>
      <dt>Tool calls</dt><dd>${doc.toolCalls ?? 0}</dd>
      <dt>Contract</dt><dd>${doc.contractVersion ?? ""}</dd>
      <dt>Trace id</dt><dd>${traceId === undefined ? "not recorded" : html`<code class="trace">${traceId}</code>`}</dd>
    </dl>
    <h2>Timeline</h2>
    <ol class="timeline">${items}</ol>
    <h2>Policy verdicts and approvals</h2>
    ${
      audit.length === 0
        ? html`<p>None recorded.</p>`
        : html`<table class="audit"><thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Details</th></tr></thead><tbody>${audit.map(
            (entry) =>
              html`<tr><td>${time(entry.at)}</td><td><code>${entry.type}</code></td><td><code>${JSON.stringify(entry.data)}</code></td></tr>`,
          )}</tbody></table>`
    }
    <p class="live" data-finished="${finished ? "true" : "false"}">${finished ? "This run is finished." : "Live: this page follows the run."}</p>`;
}

export interface PendingApproval {
  approvalId: string;
  runId: string;
  instance: string;
  tool: string;
  arguments: string;
  expiresAt: number;
  approvers?: string[];
  requester?: string;
  /** Absent when another channel asks for this approval. */
  access?: ApprovalAccess;
}

export function approvalsView(approvals: PendingApproval[], user: PageUser): Html {
  if (approvals.length === 0) return html`<p>No tool call is waiting for an approval.</p>`;
  return html`<p class="hint">You decide as <code>http:${user.tokenName}</code>; the agent checks that you may approve the call, as for <code>POST /api/v1/approvals/{id}</code>.</p>
    <ul class="approvals">${approvals.map(
      (a) => html`<li class="card">
        <h2><code>${a.tool}</code> in <a href="/console/runs/${a.runId}">${a.runId}</a></h2>
        <p class="meta">Instance ${a.instance}${a.requester ? html` · started by ${a.requester}` : ""} · expires ${time(a.expiresAt)}${a.approvers ? html` · approvers: ${a.approvers.join(", ")}` : ""}</p>
        <pre class="args">${pretty(a.arguments)}</pre>
        ${decideOrHint(a.access, a.approvalId, user, "/console/approvals")}
      </li>`,
    )}</ul>`;
}

export interface InstanceView {
  name: string;
  details?: {
    model: string;
    policy: string;
    skills: string[];
    channels: string[];
    budgets?: Record<string, number | undefined>;
  };
  active: number;
  activeTokens: number;
  activeCost: number;
  recentRuns: number;
  recentTokens: number;
  recentCost: number;
}

const BUDGET_LABELS: Record<string, string> = {
  tokens: "tokens per run",
  costUsd: "cost per run (USD)",
  toolCalls: "tool calls per run",
  modelTurns: "model turns per run",
  wallClockSeconds: "wall clock per run (s)",
  concurrentRunsPerInstance: "concurrent runs",
  concurrentRunsPerSender: "concurrent runs per sender",
};

export function instancesView(instances: InstanceView[]): Html {
  return html`${instances.map((instance) => {
    const budgets = Object.entries(instance.details?.budgets ?? {}).filter(([, value]) => value !== undefined);
    return html`<section class="card" aria-labelledby="instance-${instance.name}">
      <h2 id="instance-${instance.name}">${instance.name}</h2>
      <dl class="facts">
        <dt>Model</dt><dd>${instance.details?.model ?? "unknown"}</dd>
        <dt>Policy</dt><dd>${instance.details?.policy ?? ""}</dd>
        <dt>Skills</dt><dd>${instance.details?.skills.join(", ") || "none"}</dd>
        <dt>Channels</dt><dd>${instance.details?.channels.join(", ") || "none"}</dd>
        <dt>Active runs</dt><dd>${instance.active}${instance.details?.budgets?.concurrentRunsPerInstance ? ` of ${instance.details.budgets.concurrentRunsPerInstance}` : ""} · ${instance.activeTokens} tokens · ${usd(instance.activeCost)}</dd>
        <dt>Latest ${instance.recentRuns} runs</dt><dd>${instance.recentTokens} tokens · ${usd(instance.recentCost)}</dd>
      </dl>
      <h3>Budgets</h3>
      ${budgets.length === 0 ? html`<p>No budget set.</p>` : html`<ul>${budgets.map(([key, value]) => html`<li>${BUDGET_LABELS[key] ?? key}: ${value}</li>`)}</ul>`}
    </section>`;
  })}`;
}

function dlActions(entry: DeadLetterSummary, user: PageUser): Html {
  return html`<form method="post" action="/console/deadletters/${entry.id}/replay" class="inline">${csrfField(user)}<button type="submit">Replay</button></form>
    <form method="post" action="/console/deadletters/${entry.id}/discard" class="inline">${csrfField(user)}<button type="submit" class="deny">Discard</button></form>`;
}

export function deadLettersView(entries: DeadLetterSummary[], next: string | null, user: PageUser): Html {
  if (entries.length === 0) return html`<p>No dead letters.</p>`;
  return html`<table class="deadletters">
      <thead><tr><th scope="col">Event</th><th scope="col">Type</th><th scope="col">Failed at</th><th scope="col">Code</th><th scope="col">Received</th><th scope="col">Replays</th><th scope="col">Actions</th></tr></thead>
      <tbody>${entries.map(
        (entry) => html`<tr>
          <td><a href="/console/deadletters/${entry.id}">${entry.attributes.id ?? entry.id}</a></td>
          <td><code>${entry.attributes.type ?? ""}</code></td>
          <td>${entry.error.destination ?? ""}</td>
          <td>${entry.error.code ?? ""}</td>
          <td>${time(entry.lastReceivedAt)} (${entry.receivedCount}×)</td>
          <td>${entry.replayCount}</td>
          <td>${dlActions(entry, user)}</td>
        </tr>`,
      )}</tbody>
    </table>
    ${next === null ? "" : html`<nav aria-label="Pages" class="pages"><a href="/console/deadletters?cursor=${encodeURIComponent(next)}">Older dead letters</a></nav>`}`;
}

export function deadLetterView(entry: DeadLetter, user: PageUser): Html {
  const data = entry.dataBase64 === null ? undefined : Buffer.from(entry.dataBase64, "base64").toString("utf8");
  return html`<h2>Attributes</h2>
    <pre>${JSON.stringify(entry.attributes, null, 2)}</pre>
    <h2>Error</h2>
    <pre>${JSON.stringify(entry.error, null, 2)}</pre>
    <h2>Data</h2>
    <pre>${data === undefined ? "(no data)" : pretty(data)}</pre>
    <p>${dlActions(entry, user)}</p>`;
}

export function pairingView(byInstance: Array<{ instance: string; pending: PairingRecord[] }>, user: PageUser): Html {
  const rows = byInstance.flatMap(({ instance, pending }) => pending.map((record) => ({ instance, record })));
  if (rows.length === 0) return html`<p>No pairing request is waiting.</p>`;
  return html`<table class="pairing">
    <thead><tr><th scope="col">Instance</th><th scope="col">Code</th><th scope="col">Who</th><th scope="col">Expires</th><th scope="col">Decision</th></tr></thead>
    <tbody>${rows.map(
      ({ instance, record }) => html`<tr>
        <td>${instance}</td><td><code>${record.code}</code></td>
        <td>${record.channel}:${record.sender}${record.displayName ? ` (${record.displayName})` : ""}</td>
        <td>${time(record.expiresAt)}</td>
        <td><form method="post" action="/console/pairing/${instance}/${record.code}" class="decide">${csrfField(user)}
          <button type="submit" name="decision" value="approve" class="approve">Approve</button>
          <button type="submit" name="decision" value="deny" class="deny">Deny</button></form></td>
      </tr>`,
    )}</tbody></table>`;
}

export function errorView(message: string, back: string): Html {
  return html`<p class="error" role="alert">${message}</p><p><a href="${back}">Back</a></p>`;
}
