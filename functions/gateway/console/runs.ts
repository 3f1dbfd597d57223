import type { MemoryClient } from "../../../clients/memory/client.ts";
import type { AuditEntry } from "../../../clients/memory/contract/audit.ts";
import type { Run, RunStatus } from "../../../clients/memory/contract/runs.ts";

/**
 * The agents' own run documents (the memory service, read with the gateway's `runs:read` / `audit:read` scope): the
 * console's run list across instances and a run's audit entries. Every run is listed, whichever channel started it.
 */
export type RunReader = Pick<MemoryClient, "listRuns" | "findRun" | "readAudit">;

export interface RunPage {
  runs: Run[];
  /** Opaque: pass back as `cursor` for the next (older) page; undefined on the last page. */
  next?: string;
}

/** Per instance: the memory service's cursor to continue from ("" = from the newest); an instance absent is done. */
type Cursors = Record<string, string>;

function encode(cursors: Cursors): string | undefined {
  return Object.keys(cursors).length === 0 ? undefined : Buffer.from(JSON.stringify(cursors)).toString("base64url");
}

function decode(cursor: string, instances: readonly string[]): Cursors | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    const out: Cursors = {};
    for (const [instance, memoryCursor] of Object.entries(value)) {
      if (!instances.includes(instance) || typeof memoryCursor !== "string") return undefined;
      out[instance] = memoryCursor;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Newest first, as the memory service orders each instance's runs. */
function newestFirst(a: Run, b: Run): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * One page of runs across `instances`, newest first: each instance's next page is read, merged, and cut at `limit`.
 * The cursor keeps one memory-service cursor per instance; an instance whose page was only partly shown is read
 * once more up to its last shown run, so its cursor continues exactly after it.
 */
export async function listRuns(
  reader: RunReader,
  instances: readonly string[],
  query: { status?: RunStatus; limit: number; cursor?: string },
): Promise<RunPage | undefined> {
  const cursors =
    query.cursor === undefined ? Object.fromEntries(instances.map((i) => [i, ""])) : decode(query.cursor, instances);
  if (cursors === undefined) return undefined;
  const status = query.status === undefined ? {} : { status: query.status };
  const listed = await Promise.all(
    Object.entries(cursors).map(async ([instance, cursor]) => {
      const page = await reader.listRuns(instance, { limit: query.limit, ...status, ...(cursor ? { cursor } : {}) });
      return { instance, cursor, page };
    }),
  );
  const runs = listed
    .flatMap(({ page }) => page.runs)
    .sort(newestFirst)
    .slice(0, query.limit);
  const next: Cursors = {};
  await Promise.all(
    listed.map(async ({ instance, cursor, page }) => {
      const shown = runs.filter((run) => run.instance === instance).length;
      if (shown === 0) {
        // Nothing of it shown: read it again from the same place next time, unless it has nothing left.
        if (page.runs.length > 0) next[instance] = cursor;
      } else if (shown === page.runs.length) {
        if (page.nextCursor !== null) next[instance] = page.nextCursor;
      } else {
        const upTo = await reader.listRuns(instance, { limit: shown, ...status, ...(cursor ? { cursor } : {}) });
        if (upTo.nextCursor !== null) next[instance] = upTo.nextCursor;
      }
    }),
  );
  const encoded = encode(next);
  return encoded === undefined ? { runs } : { runs, next: encoded };
}

/** A run's audit entries: read from the instance's stream over the run's lifetime (plus a minute for the last step). */
export async function runAudit(reader: RunReader, run: Run): Promise<AuditEntry[]> {
  const { entries } = await reader.readAudit(run.instance, {
    after: `${Math.max(0, run.createdAt - 1)}-0`,
    before: `${run.updatedAt + 60_000}-0`,
    order: "asc",
    limit: 1000,
  });
  return entries.filter((entry) => entry.runId === run.id);
}
