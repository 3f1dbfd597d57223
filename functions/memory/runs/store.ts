import { type Run, type RunStatus, TERMINAL_RUN_STATUSES } from "../../../clients/memory/contract/runs.ts";
import type { CursorPage } from "../paging.ts";

/**
 * Runs by instance, versioned for compare-and-set, with a global run id -> instance index for lookups by id alone.
 * Finished runs expire after their retention. Listings page newest first by `<createdAt>:<id>` members.
 */
export interface RunStore {
  create(instance: string, run: Run): Promise<CreateRunOutcome>;
  get(instance: string, id: string, now: number): Promise<Run | undefined>;
  /** The run with this id whatever its instance. */
  find(id: string, now: number): Promise<Run | undefined>;
  update(instance: string, id: string, input: RunUpdate): Promise<UpdateRunOutcome>;
  list(instance: string, input: RunListing): Promise<{ runs: Run[]; next: string | null }>;
}

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_RUN_STATUSES.includes(status);
}

export type CreateRunOutcome =
  | { kind: "created"; run: Run }
  | { kind: "exists"; run: Run }
  /** The id is taken by a run of another instance. */
  | { kind: "conflict" };

export interface RunUpdate {
  expectedVersion: number;
  status?: RunStatus;
  state?: Run["state"];
  /** How long the run is kept if this update finishes it. */
  retentionMs: number;
  updateId?: string;
  now: number;
}

export type UpdateRunOutcome =
  | { kind: "ok"; run: Run }
  | { kind: "missing" }
  | { kind: "version_mismatch"; version: number };

export interface RunListing extends CursorPage {
  status?: RunStatus;
  now: number;
}
