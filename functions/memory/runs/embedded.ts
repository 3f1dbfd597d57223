import type { Run } from "../../../clients/memory/contract/runs.ts";
import { stateOf } from "../embedded/maps.ts";
import { listMember } from "../paging.ts";
import {
  type CreateRunOutcome,
  isTerminal,
  type RunListing,
  type RunStore,
  type RunUpdate,
  type UpdateRunOutcome,
} from "./store.ts";

interface StoredRun {
  run: Run;
  lastUpdateId?: string;
}

/** One instance's runs by id. */
type Runs = Map<string, StoredRun>;

function liveRun(runs: Runs, id: string, now: number) {
  const stored = runs.get(id);
  // Expired: invisible at once, freed (with its index entries) by the next sweep.
  if (stored && stored.run.expiresAt !== null && stored.run.expiresAt <= now) return undefined;
  return stored;
}

/**
 * Runs in process, per instance, with the run id -> instance index. Finished runs are kept for their retention and,
 * since nothing but the process's memory holds them, at most `maxFinishedRuns` of them across all instances: past
 * that, the runs that finished first are dropped (runs still going are never dropped).
 */
export class EmbeddedRunStore implements RunStore {
  readonly #instances = new Map<string, Runs>();
  /** Run id -> instance, for lookups by run id alone. */
  readonly #owners = new Map<string, string>();
  /** Finished runs, run id -> instance, in the order they finished (a Map keeps insertion order). */
  readonly #finished = new Map<string, string>();
  readonly #maxFinishedRuns: number;

  constructor(options: { maxFinishedRuns: number }) {
    this.#maxFinishedRuns = options.maxFinishedRuns;
  }

  #of(instance: string): Runs {
    return stateOf(this.#instances, instance, () => new Map());
  }

  /** Frees finished runs past their retention (they are invisible already). */
  sweep(now: number): void {
    for (const [instance, runs] of this.#instances) {
      for (const [id, stored] of runs) {
        if (stored.run.expiresAt === null || stored.run.expiresAt > now) continue;
        this.#drop(instance, id);
      }
    }
  }

  #drop(instance: string, id: string): void {
    this.#instances.get(instance)?.delete(id);
    if (this.#owners.get(id) === instance) this.#owners.delete(id);
    if (this.#finished.get(id) === instance) this.#finished.delete(id);
  }

  /** Record where a stored run stands; a finished one goes to the end of the eviction order. */
  #track(instance: string, run: Run): void {
    if (this.#finished.get(run.id) === instance) this.#finished.delete(run.id);
    if (run.expiresAt === null) return;
    this.#finished.set(run.id, instance);
    while (this.#finished.size > this.#maxFinishedRuns) {
      const [oldestId, oldestInstance] = this.#finished.entries().next().value!;
      this.#drop(oldestInstance, oldestId);
    }
  }

  async create(instance: string, run: Run): Promise<CreateRunOutcome> {
    const owner = this.#owners.get(run.id);
    if (owner !== undefined && owner !== instance && liveRun(this.#of(owner), run.id, run.createdAt)) {
      return { kind: "conflict" };
    }
    this.#owners.set(run.id, instance);
    const runs = this.#of(instance);
    const existing = liveRun(runs, run.id, run.createdAt);
    if (existing) return { kind: "exists", run: existing.run };
    runs.set(run.id, { run });
    this.#track(instance, run);
    return { kind: "created", run };
  }

  async get(instance: string, id: string, now: number): Promise<Run | undefined> {
    const runs = this.#of(instance);
    return liveRun(runs, id, now)?.run;
  }

  async find(id: string, now: number): Promise<Run | undefined> {
    const owner = this.#owners.get(id);
    return owner === undefined ? undefined : liveRun(this.#of(owner), id, now)?.run;
  }

  async update(instance: string, id: string, update: RunUpdate): Promise<UpdateRunOutcome> {
    const runs = this.#of(instance);
    const stored = liveRun(runs, id, update.now);
    if (!stored) return { kind: "missing" };
    const current = stored.run;
    if (current.version !== update.expectedVersion) {
      const replay =
        update.updateId !== undefined &&
        stored.lastUpdateId === update.updateId &&
        current.version === update.expectedVersion + 1;
      return replay ? { kind: "ok", run: current } : { kind: "version_mismatch", version: current.version };
    }
    const status = update.status ?? current.status;
    const run: Run = {
      ...current,
      status,
      state: update.state ?? current.state,
      version: current.version + 1,
      updatedAt: update.now,
      expiresAt: isTerminal(status) ? update.now + update.retentionMs : null,
    };
    runs.set(id, { run, lastUpdateId: update.updateId });
    this.#track(instance, run);
    return { kind: "ok", run };
  }

  async list(instance: string, input: RunListing): Promise<{ runs: Run[]; next: string | null }> {
    const runs = this.#of(instance);
    const entries: Array<{ member: string; run: Run }> = [];
    for (const id of [...runs.keys()]) {
      const run = liveRun(runs, id, input.now)?.run;
      if (!run || (input.status !== undefined && run.status !== input.status)) continue;
      const member = listMember(run.createdAt, run.id);
      if (input.after === undefined || member < input.after) entries.push({ member, run });
    }
    entries.sort((a, b) => (a.member < b.member ? 1 : -1));
    const page = entries.slice(0, input.limit);
    return {
      runs: page.map((entry) => entry.run),
      next: entries.length > input.limit ? page[page.length - 1]!.member : null,
    };
  }
}
