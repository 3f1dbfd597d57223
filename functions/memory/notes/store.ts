import type { Note } from "../../../clients/memory/contract/notes.ts";
import type { CursorPage } from "../paging.ts";
import type { TermVector } from "./text-index.ts";

/**
 * Notes with their keyword index (term vectors per note, postings per term, corpus statistics for BM25 ranking).
 * Listings page newest first by `<createdAt>:<id>` members (../paging.ts).
 */
export interface NoteStore {
  add(instance: string, input: NoteWrite & { maxPerOwner: number }): Promise<AddNoteOutcome>;
  get(instance: string, id: string): Promise<Note | undefined>;
  /** Applies `mutate` to the current note atomically (optimistically retried on Redis). */
  update(instance: string, id: string, mutate: NoteMutation): Promise<UpdateNoteOutcome>;
  delete(instance: string, id: string): Promise<boolean>;
  list(instance: string, owner: string, page: CursorPage): Promise<{ notes: Note[]; next: string | null }>;
  search(instance: string, input: NoteSearch): Promise<Array<{ note: Note; score: number }>>;
}

/** `i` for an instance's own notes, `u:<user>` for a user's. */
export function noteOwnerKey(user: string | undefined): string {
  return user === undefined ? "i" : `u:${user}`;
}

export interface NoteWrite {
  note: Note;
  vector: TermVector;
  /** noteOwnerKey() of the note's owner. */
  owner: string;
}

export type AddNoteOutcome =
  | { kind: "created"; note: Note }
  | { kind: "exists"; note: Note }
  | { kind: "cap_exceeded" };

export type NoteMutation = (current: Note) => { kind: "write"; note: Note; vector: TermVector } | NoteRejection;
type NoteRejection = { kind: "version_mismatch"; version: number };
export type UpdateNoteOutcome = { kind: "ok"; note: Note } | { kind: "missing" } | NoteRejection;

export interface NoteSearch {
  terms: string[];
  /** Owner keys whose notes may be returned. */
  owners: string[];
  limit: number;
}
