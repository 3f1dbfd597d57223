import type { Context, Hono } from "hono";
import { RUN_STATUSES, type Run, type RunStatus } from "../../../clients/memory/contract/runs.ts";
import { ApiError } from "../../../runtime/api-error.ts";
import { namedTokens, refuseCredentialsInUrl } from "../../../runtime/bearer.ts";
import type { PairingAdmin } from "../api.ts";
import { approvalView } from "../approvals.ts";
import type { GatewayConfig } from "../config.ts";
import { TokenBuckets } from "../rate-limit.ts";
import type { RunStore } from "../run-store.ts";
import { sseResponse } from "../sse.ts";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.ts";
import type { DeadLetterApi } from "./dead-letters.ts";
import { type ConsoleEnv, checkOrigin, isSecure, requireCsrf, requireSession } from "./guard.ts";
import { html, notice, type PageUser, page } from "./layout.ts";
import type { RunDocument } from "./run-document.ts";
import { listRuns, type RunReader, runAudit } from "./runs.ts";
import { type ConsoleSessions, clearedCookie, sessionCookie } from "./session.ts";
import {
  type ApprovalAccess,
  approvalsView,
  deadLettersView,
  deadLetterView,
  errorView,
  type InstanceView,
  instancesView,
  loginView,
  type PendingApproval,
  pairingView,
  type RunFilters,
  runRows,
  runsView,
  timelineView,
} from "./views.ts";

/**
 * The operator console (functions/gateway/README.md lists its routes and who may call each): server-rendered pages
 * under /console, entered at `/`. A session comes from signing in with a gateway token (posted in a form, never in a
 * URL); the console then acts as that token: approvals and pairing decisions go through the gateway's own API
 * in-process with it, so they obey exactly the API's rules (bearer check, rate limit, the agent's approver check).
 */
export interface ConsoleDeps {
  config: GatewayConfig;
  store: RunStore;
  sessions: ConsoleSessions;
  /** The agents' run documents and audit entries; undefined without a memory service. */
  runs?: RunReader;
  pairing?: PairingAdmin;
  deadLetters?: DeadLetterApi;
  instanceDetails: Record<string, InstanceView["details"]>;
  /** How often live views re-read what they show. */
  pollMs?: number;
}

const PAGE_SIZE = 25;
const KEEPALIVE_MS = 15_000;
const PUBLIC_PATHS = new Set(["/console/login", "/console/assets/console.css", "/console/assets/console.js"]);

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  // Not no-referrer: with it Chromium sends `Origin: null` on form posts, which the same-origin check must refuse.
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

// biome-ignore lint/suspicious/noExplicitAny: the gateway app's variables differ from the console's; both are served by it
type AnyHono = Hono<any>;

const SIGN_INS_PER_MINUTE = 20;
const SIGN_IN_BURST = 20;

export function registerConsole(app: AnyHono, deps: ConsoleDeps): void {
  const instances = [...deps.config.instances].sort();
  const verifyToken = namedTokens(deps.config.tokens);
  const pollMs = deps.pollMs ?? 1_000;
  const consoleApp = app as Hono<ConsoleEnv>;

  app.get("/console", (c) => c.redirect("/console/runs", 303));

  app.use("/console/*", async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    if (!c.req.path.startsWith("/console/assets/")) c.header("cache-control", "no-store");
  });
  // A token (or any credential-looking parameter) in a console URL is refused, the sign-in form included.
  app.use("/console/*", refuseCredentialsInUrl());
  const session = requireSession(deps.sessions);
  const csrf = requireCsrf();
  consoleApp.use("/console/*", async (c, next) => (PUBLIC_PATHS.has(c.req.path) ? next() : session(c, next)));
  consoleApp.use("/console/*", async (c, next) => (PUBLIC_PATHS.has(c.req.path) ? next() : csrf(c, next)));

  app.get("/console/assets/console.css", (c) =>
    c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=300" }),
  );
  app.get("/console/assets/console.js", (c) =>
    c.body(CONSOLE_JS, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "public, max-age=300",
    }),
  );

  // Sign-in: public, same-origin only (login CSRF), the token in the form body. Attempts are limited per client (the
  // first X-Forwarded-For hop the ingress adds, else one shared bucket): a person signs in rarely, a guesser often.
  const signIns = new TokenBuckets(SIGN_INS_PER_MINUTE, SIGN_IN_BURST);
  app.get("/console/login", (c) => c.html(page("Sign in", loginView())));
  app.post("/console/login", async (c) => {
    checkOrigin(c);
    const client = c.req.header("x-forwarded-for")?.split(",")[0]?.trim() || "direct";
    const allowed = signIns.take(client);
    if (!allowed.ok) {
      throw new ApiError(429, "rate_limited", "too many sign-in attempts; wait and try again", {
        retryAfterSeconds: Math.max(1, allowed.retryAfterMs / 1000),
      });
    }
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const name = token === "" ? undefined : verifyToken(token);
    if (name === undefined) return c.html(page("Sign in", loginView("That token is not accepted.")), 401);
    const opened = await deps.sessions.open(name);
    c.header("set-cookie", sessionCookie(opened.id, isSecure(c)));
    return c.redirect("/console/runs", 303);
  });

  consoleApp.post("/console/logout", async (c) => {
    await deps.sessions.close(c.get("sessionId"));
    c.header("set-cookie", clearedCookie(isSecure(c)));
    return c.redirect("/console/login", 303);
  });

  const userOf = (c: Context<ConsoleEnv>): PageUser => ({
    tokenName: c.get("session").tokenName,
    csrf: c.get("session").csrf,
  });
  const render = (
    c: Context<ConsoleEnv>,
    title: string,
    current: string,
    body: ReturnType<typeof html>,
    status = 200,
  ) => c.html(page(title, body, userOf(c), current), status as 200);
  const requireRuns = (): RunReader => {
    if (deps.runs === undefined) throw new ApiError(503, "unavailable", "the memory service is not configured");
    return deps.runs;
  };

  const filtersOf = (c: Context): RunFilters & { status?: RunStatus } => {
    const instance = c.req.query("instance") || undefined;
    const status = c.req.query("status") || undefined;
    if (instance !== undefined && !deps.config.instances.has(instance))
      throw new ApiError(400, "invalid_request", "no such instance");
    if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status))
      throw new ApiError(400, "invalid_request", "no such status");
    return { ...(instance ? { instance } : {}), ...(status ? { status: status as RunStatus } : {}) };
  };
  const firstPage = async (filters: RunFilters & { status?: RunStatus }, cursor?: string) => {
    const page = await listRuns(requireRuns(), filters.instance ? [filters.instance] : instances, {
      limit: PAGE_SIZE,
      ...(filters.status ? { status: filters.status } : {}),
      ...(cursor ? { cursor } : {}),
    });
    if (page === undefined) throw new ApiError(400, "invalid_request", "not a cursor of this listing");
    return page;
  };

  consoleApp.get("/console/runs", async (c) => {
    const filters = filtersOf(c);
    const cursor = c.req.query("cursor") || undefined;
    const listed = await firstPage(filters, cursor);
    return render(
      c,
      "Runs",
      "/console/runs",
      runsView({
        instances,
        filters,
        runs: listed.runs,
        paged: cursor !== undefined,
        ...(listed.next ? { next: listed.next } : {}),
      }),
    );
  });

  consoleApp.get("/console/runs/stream", (c) => {
    const filters = filtersOf(c);
    const signal = c.req.raw.signal;
    return sseResponse(async (writer) => {
      const stop = AbortSignal.any([writer.signal, signal]);
      let last = "";
      let lastWrite = Date.now();
      while (!stop.aborted) {
        const rows = String(runRows((await firstPage(filters)).runs));
        if (rows !== last) {
          writer.send({ event: "html", data: rows });
          last = rows;
          lastWrite = Date.now();
        } else if (Date.now() - lastWrite >= KEEPALIVE_MS) {
          writer.comment("keep-alive");
          lastWrite = Date.now();
        }
        await pause(pollMs, stop);
      }
    });
  });

  const loadRun = async (id: string): Promise<Run> => {
    const run = await requireRuns().findRun(id);
    if (run === undefined) throw new ApiError(404, "not_found", "no such run");
    return run;
  };
  /**
   * How the signed-in token stands towards each held call of the run: whether the API would forward its decision (an
   * approval this gateway was asked, still open, and the token among its approvers: approvals.ts, the API's own rule)
   * and, when not, who may; other channels' approvals are absent.
   */
  const approvalAccess = async (c: Context<ConsoleEnv>, doc: Partial<RunDocument>) => {
    const held = (doc.pending ?? []).flatMap((call) =>
      call.status === "awaiting_approval" && call.approval ? [call.approval.id] : [],
    );
    const tokenName = c.get("session").tokenName;
    const access = await Promise.all(
      held.map(async (id): Promise<[string, ApprovalAccess] | undefined> => {
        const approval = await deps.store.recallApproval(id);
        if (approval === undefined) return undefined;
        const view = approvalView(approval, await deps.store.verdict(id), tokenName, Date.now());
        return [id, { mayDecide: view.mayDecide, ...(view.approvers ? { approvers: view.approvers } : {}) }];
      }),
    );
    return new Map(access.filter((entry) => entry !== undefined));
  };
  const timeline = async (c: Context<ConsoleEnv>, run: Run) => {
    const doc = run.state as Partial<RunDocument>;
    const [audit, decidable] = await Promise.all([runAudit(requireRuns(), run), approvalAccess(c, doc)]);
    return timelineView(run, doc, audit, userOf(c), decidable);
  };

  consoleApp.get("/console/runs/:id", async (c) => {
    const run = await loadRun(c.req.param("id"));
    // The stream starts from the version this page shows, so a change made before it connects is sent, not lost.
    const body = html`${notice(c.req.query("notice"))}<section id="run-timeline" aria-live="polite" data-stream="/console/runs/${run.id}/stream?version=${run.version}">${await timeline(c, run)}</section>`;
    return render(c, `Run ${run.id}`, "/console/runs", body);
  });

  /**
   * A run's timeline, live: an `html` event whenever the run's version differs from the one the client shows (its
   * id is that version), `end` once the run is finished. The client's version is the page's (`?version=`), or, when
   * the browser reconnects a stream that broke (a failed poll ends it), the last event id it got (`Last-Event-ID`),
   * so a change made while no stream was open is sent on the next one, never lost.
   */
  consoleApp.get("/console/runs/:id/stream", async (c) => {
    const id = c.req.param("id");
    await loadRun(id);
    const shown = clientVersion(c.req.header("last-event-id") ?? c.req.query("version"));
    const signal = c.req.raw.signal;
    return sseResponse(async (writer) => {
      const stop = AbortSignal.any([writer.signal, signal]);
      let version = shown;
      let lastWrite = Date.now();
      while (!stop.aborted) {
        const run = await requireRuns().findRun(id);
        if (run === undefined) return;
        if (run.version !== version) {
          writer.send({ id: String(run.version), event: "html", data: String(await timeline(c, run)) });
          version = run.version;
          lastWrite = Date.now();
        } else if (Date.now() - lastWrite >= KEEPALIVE_MS) {
          writer.comment("keep-alive");
          lastWrite = Date.now();
        }
        if (run.status === "completed" || run.status === "failed" || run.status === "cancelled") {
          writer.send({ event: "end", data: run.status });
          return;
        }
        await pause(pollMs, stop);
      }
    });
  });

  consoleApp.get("/console/approvals", async (c) => {
    const reader = requireRuns();
    const waiting = (
      await Promise.all(instances.map((instance) => reader.listRuns(instance, { status: "waiting", limit: 200 })))
    ).flatMap((page) => page.runs);
    const approvals: PendingApproval[] = [];
    for (const run of waiting) {
      const doc = run.state as Partial<RunDocument>;
      const access = await approvalAccess(c, doc);
      for (const call of doc.pending ?? []) {
        if (call.status !== "awaiting_approval" || call.approval === undefined) continue;
        approvals.push({
          approvalId: call.approval.id,
          runId: run.id,
          instance: run.instance,
          tool: call.ref ?? call.name,
          arguments: call.arguments,
          expiresAt: call.approval.expiresAt,
          ...(call.approval.approvers ? { approvers: call.approval.approvers } : {}),
          ...(doc.requester ? { requester: `${doc.requester.channel}:${doc.requester.id}` } : {}),
          ...(access.has(call.approval.id) ? { access: access.get(call.approval.id) } : {}),
        });
      }
    }
    approvals.sort((a, b) => a.expiresAt - b.expiresAt);
    return render(
      c,
      "Approvals",
      "/console/approvals",
      html`${notice(c.req.query("notice"))}${approvalsView(approvals, userOf(c))}`,
    );
  });

  /** The gateway's own API, in-process, as the signed-in token: the API's middleware and rules apply unchanged. */
  const asToken = async (c: Context<ConsoleEnv>, method: string, path: string, body?: unknown) => {
    const token = deps.config.tokens.get(c.get("session").tokenName);
    if (token === undefined) throw new ApiError(401, "unauthenticated", "this session's token is no longer configured");
    const response = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.ok) return;
    const answer = (await response.json().catch(() => undefined)) as
      | { error?: { code?: string; message?: string } }
      | undefined;
    throw new ApiError(response.status, answer?.error?.code ?? "refused", answer?.error?.message ?? "refused");
  };
  const backOf = (value: unknown, fallback: string) =>
    typeof value === "string" && /^\/console\/[A-Za-z0-9/_.-]*$/.test(value) ? value : fallback;
  /** A console action: on success back to `back` with a notice; a refusal is shown as a page with its status. */
  const act = async (c: Context<ConsoleEnv>, back: string, title: string, work: () => Promise<string>) => {
    try {
      const key = await work();
      return c.redirect(`${back}?notice=${key}`, 303);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return render(c, title, back, errorView(error.message, back), error.status);
    }
  };

  consoleApp.post("/console/approvals/:id", async (c) => {
    const form = await c.req.parseBody();
    const back = backOf(form.back, "/console/approvals");
    const decision = form.decision;
    return act(c, back, "Approval", async () => {
      if (decision !== "approve" && decision !== "deny")
        throw new ApiError(400, "invalid_request", "decide approve or deny");
      await asToken(c, "POST", `/api/v1/approvals/${encodeURIComponent(c.req.param("id"))}`, { decision });
      return decision === "approve" ? "approved" : "denied";
    });
  });

  consoleApp.get("/console/instances", async (c) => {
    const reader = requireRuns();
    const views = await Promise.all(
      instances.map(async (name): Promise<InstanceView> => {
        const [running, waiting, recent] = await Promise.all([
          reader.listRuns(name, { status: "running", limit: 200 }),
          reader.listRuns(name, { status: "waiting", limit: 200 }),
          reader.listRuns(name, { limit: 50 }),
        ]);
        const sum = (runs: Run[]) => {
          let tokens = 0;
          let cost = 0;
          for (const run of runs) {
            const doc = run.state as Partial<RunDocument>;
            tokens += (doc.usage?.inputTokens ?? 0) + (doc.usage?.outputTokens ?? 0);
            cost += doc.costUsd ?? 0;
          }
          return { tokens, cost };
        };
        const active = sum([...running.runs, ...waiting.runs]);
        const latest = sum(recent.runs);
        const details = deps.instanceDetails[name];
        return {
          name,
          ...(details ? { details } : {}),
          active: running.runs.length + waiting.runs.length,
          activeTokens: active.tokens,
          activeCost: active.cost,
          recentRuns: recent.runs.length,
          recentTokens: latest.tokens,
          recentCost: latest.cost,
        };
      }),
    );
    return render(c, "Instances", "/console/instances", instancesView(views));
  });

  const requireDeadLetters = (): DeadLetterApi => {
    if (deps.deadLetters === undefined)
      throw new ApiError(503, "unavailable", "no dead-letter sink is configured for the gateway");
    return deps.deadLetters;
  };
  consoleApp.get("/console/deadletters", async (c) => {
    if (deps.deadLetters === undefined)
      return render(
        c,
        "Dead letters",
        "/console/deadletters",
        html`<p>No dead-letter sink is configured for the gateway.</p>`,
      );
    const listed = await deps.deadLetters.list(c.req.query("cursor") || undefined);
    return render(
      c,
      "Dead letters",
      "/console/deadletters",
      html`${notice(c.req.query("notice"))}${deadLettersView(listed.deadLetters, listed.nextCursor, userOf(c))}`,
    );
  });
  consoleApp.get("/console/deadletters/:id", async (c) => {
    const entry = await requireDeadLetters().get(c.req.param("id"));
    return render(
      c,
      `Dead letter ${entry.attributes.id ?? entry.id}`,
      "/console/deadletters",
      deadLetterView(entry, userOf(c)),
    );
  });
  consoleApp.post("/console/deadletters/:id/:verb{replay|discard}", async (c) => {
    const id = c.req.param("id");
    const verb = c.req.param("verb");
    return act(c, "/console/deadletters", "Dead letters", async () => {
      if (verb === "replay") await requireDeadLetters().replay(id);
      else await requireDeadLetters().discard(id);
      return verb === "replay" ? "replayed" : "discarded";
    });
  });

  consoleApp.get("/console/pairing", async (c) => {
    if (deps.pairing === undefined) throw new ApiError(503, "unavailable", "the memory service is not configured");
    const pairing = deps.pairing;
    const byInstance = await Promise.all(
      instances.map(async (instance) => ({ instance, pending: await pairing.listPairing(instance) })),
    );
    return render(
      c,
      "Pairing requests",
      "/console/pairing",
      html`${notice(c.req.query("notice"))}${pairingView(byInstance, userOf(c))}`,
    );
  });
  consoleApp.post("/console/pairing/:instance/:code", async (c) => {
    const form = await c.req.parseBody();
    const decision = form.decision;
    return act(c, "/console/pairing", "Pairing requests", async () => {
      if (decision !== "approve" && decision !== "deny")
        throw new ApiError(400, "invalid_request", "decide approve or deny");
      const path = `/api/v1/instances/${encodeURIComponent(c.req.param("instance"))}/pairing/${encodeURIComponent(c.req.param("code"))}/${decision}`;
      await asToken(c, "POST", path);
      return decision === "approve" ? "pairing-approved" : "pairing-denied";
    });
  });
}

/** The run version a client says it shows; undefined (send the timeline at once) for anything else. */
function clientVersion(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,15}$/.test(value.trim()) ? Number(value) : undefined;
}

/** Waits `ms`, or less when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
