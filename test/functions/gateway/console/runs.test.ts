import { describe, expect, it } from "vitest";
import type { Run } from "../../../../clients/memory/contract/runs.ts";
import { listRuns, type RunReader } from "../../../../functions/gateway/console/runs.ts";
import { timelineView } from "../../../../functions/gateway/console/views.ts";

/** A memory service's run listing: newest first per instance, an opaque cursor after the last run returned. */
function reader(runs: Run[]): RunReader {
  const byInstance = (instance: string, status?: string) =>
    runs
      .filter((run) => run.instance === instance && (status === undefined || run.status === status))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  return {
    listRuns: async (instance, query = {}) => {
      const all = byInstance(instance, query.status);
      const start = query.cursor === undefined ? 0 : Number(query.cursor.slice(1));
      const page = all.slice(start, start + (query.limit ?? 50));
      const end = start + page.length;
      return { runs: page, nextCursor: end < all.length ? `c${end}` : null };
    },
    findRun: async (id) => runs.find((run) => run.id === id),
    readAudit: async () => ({ entries: [], next: null }),
  };
}

function run(id: string, instance: string, createdAt: number, status: Run["status"] = "completed", state = {}): Run {
  return { id, instance, status, version: 1, state, createdAt, updatedAt: createdAt, expiresAt: null };
}

describe("the console's run list across instances", () => {
  // Interleaved creation times, so every page takes some runs of each instance and some of one only.
  const runs = [
    ...Array.from({ length: 23 }, (_, i) => run(`a-${String(i).padStart(2, "0")}`, "a", 1000 + i * 3)),
    ...Array.from({ length: 9 }, (_, i) =>
      run(`b-${String(i).padStart(2, "0")}`, "b", 1001 + i * 7, i % 2 ? "failed" : "completed"),
    ),
  ];
  // The memory service's order: creation time, then id, both descending.
  const newestFirst = [...runs].sort((x, y) => y.createdAt - x.createdAt || (x.id < y.id ? 1 : -1)).map((r) => r.id);

  it("pages newest first over every instance with nothing skipped or repeated", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listRuns(reader(runs), ["a", "b"], { limit: 5, ...(cursor ? { cursor } : {}) });
      expect(page).toBeDefined();
      expect(page!.runs.length).toBeLessThanOrEqual(5);
      seen.push(...page!.runs.map((r) => r.id));
      cursor = page!.next;
    } while (cursor !== undefined);
    expect(seen).toEqual(newestFirst);
  });

  it("filters by status and by instance", async () => {
    const failed = await listRuns(reader(runs), ["a", "b"], { limit: 50, status: "failed" });
    expect(failed!.runs.map((r) => r.id)).toEqual(
      runs
        .filter((r) => r.status === "failed")
        .map((r) => r.id)
        .reverse(),
    );
    const onlyB = await listRuns(reader(runs), ["b"], { limit: 50 });
    expect(onlyB!.runs.every((r) => r.instance === "b")).toBe(true);
    expect(onlyB!.next).toBeUndefined();
  });

  it("has no next page when no instance has runs left", async () => {
    expect(await listRuns(reader([]), ["a", "b"], { limit: 5 })).toEqual({ runs: [] });
    const few = await listRuns(reader(runs.slice(0, 2)), ["a", "b"], { limit: 5 });
    expect(few!.next).toBeUndefined();
  });

  it("refuses a cursor it did not make", async () => {
    expect(await listRuns(reader(runs), ["a"], { limit: 5, cursor: "not-a-cursor" })).toBeUndefined();
    const foreign = Buffer.from(JSON.stringify({ zzz: "c1" })).toString("base64url");
    expect(await listRuns(reader(runs), ["a"], { limit: 5, cursor: foreign })).toBeUndefined();
  });
});

describe("a run's timeline", () => {
  const user = { tokenName: "admin", csrf: "csrf-token" };
  it("shows the trace id when the run recorded one, and escapes what the model and tools wrote", () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const doc = {
      userText: "<script>alert(1)</script>",
      trace: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      transcript: [
        { role: "user" as const, content: "<script>alert(1)</script>" },
        {
          role: "assistant" as const,
          content: "",
          toolCalls: [{ id: "c1", name: "http__get", arguments: '{"url":"<x>"}' }],
        },
        { role: "tool" as const, callId: "c1", name: "http__get", content: "denied", isError: true },
      ],
      pending: [
        {
          providerId: "c1",
          name: "http__get",
          arguments: "{}",
          status: "done" as const,
          attempt: 1,
          result: { content: "denied", isError: true, errorClass: "PermissionDenied" },
        },
      ],
    };
    const html = String(timelineView(run("r1", "a", 1, "running", doc), doc, [], user, new Map()));
    expect(html).toContain(`<code class="trace">${traceId}</code>`);
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;");
    expect(html).toContain("Tool call <code>http.get</code>");
    expect(html).toContain("<code>PermissionDenied</code>");
    const untraced = String(timelineView(run("r2", "a", 1), {}, [], user, new Map()));
    expect(untraced).toContain("not recorded");
  });

  it("offers approve and deny only to a token that may decide an approval the gateway was asked", () => {
    const doc = {
      transcript: [
        { role: "assistant" as const, content: "", toolCalls: [{ id: "c1", name: "time__now", arguments: "{}" }] },
      ],
      pending: [
        {
          providerId: "c1",
          name: "time__now",
          arguments: "{}",
          ref: "time.now",
          status: "awaiting_approval" as const,
          attempt: 1,
          approval: { id: "ap-1", expiresAt: 5_000 },
        },
      ],
    };
    const held = run("r3", "a", 1, "waiting", doc);
    const decide = new Map([["ap-1", { mayDecide: true }]]);
    expect(String(timelineView(held, doc, [], user, decide))).toContain('action="/console/approvals/ap-1"');
    const access = new Map([["ap-1", { mayDecide: false, approvers: ["http:cli"] }]]);
    const watch = String(timelineView(held, doc, [], user, access));
    expect(watch).not.toContain("/console/approvals/ap-1");
    expect(watch).toContain("may not decide this call: only its approvers (http:cli) can");
    const elsewhere = String(timelineView(held, doc, [], user, new Map()));
    expect(elsewhere).not.toContain("/console/approvals/ap-1");
    expect(elsewhere).toContain("This run answers on another channel");
  });
});
