import type { Note } from "../../../../clients/memory/schemas.ts";
import { rankBm25, type SearchStatistics, type TermVector } from "../../domain/text-index.ts";
import type { AddNoteOutcome, CursorPage, NoteMutation, NoteSearch, NoteWrite, UpdateNoteOutcome } from "../backend.ts";
import { listMember } from "../shared.ts";
import type { InstanceState } from "./state.ts";

function index(state: InstanceState, id: string, vector: TermVector): void {
  for (const [term, tf] of vector.terms) {
    let postings = state.postings.get(term);
    if (!postings) {
      postings = new Map();
      state.postings.set(term, postings);
    }
    postings.set(id, tf);
  }
  state.notesLength += vector.length;
}

function unindex(state: InstanceState, id: string, vector: TermVector): void {
  for (const term of vector.terms.keys()) {
    const postings = state.postings.get(term);
    postings?.delete(id);
    if (postings?.size === 0) state.postings.delete(term);
  }
  state.notesLength -= vector.length;
}

export function addNote(state: InstanceState, input: NoteWrite & { maxPerOwner: number }): AddNoteOutcome {
  const existing = state.notes.get(input.note.id);
  if (existing) return { kind: "exists", note: existing.note };
  let owned = 0;
  for (const stored of state.notes.values()) if (stored.owner === input.owner) owned += 1;
  if (owned >= input.maxPerOwner) return { kind: "cap_exceeded" };
  state.notes.set(input.note.id, { note: input.note, vector: input.vector, owner: input.owner });
  index(state, input.note.id, input.vector);
  return { kind: "created", note: input.note };
}

export function updateNote(state: InstanceState, id: string, mutate: NoteMutation): UpdateNoteOutcome {
  const stored = state.notes.get(id);
  if (!stored) return { kind: "missing" };
  const change = mutate(stored.note);
  if (change.kind !== "write") return change;
  unindex(state, id, stored.vector);
  state.notes.set(id, { note: change.note, vector: change.vector, owner: stored.owner });
  index(state, id, change.vector);
  return { kind: "ok", note: change.note };
}

export function deleteNote(state: InstanceState, id: string): boolean {
  const stored = state.notes.get(id);
  if (!stored) return false;
  unindex(state, id, stored.vector);
  state.notes.delete(id);
  return true;
}

export function listNotes(
  state: InstanceState,
  owner: string,
  page: CursorPage,
): { notes: Note[]; next: string | null } {
  const members = [...state.notes.values()]
    .filter((stored) => stored.owner === owner)
    .map((stored) => ({ member: listMember(stored.note.createdAt, stored.note.id), note: stored.note }))
    .filter((entry) => page.after === undefined || entry.member < page.after)
    .sort((a, b) => (a.member < b.member ? 1 : -1));
  const notes = members.slice(0, page.limit);
  const more = members.length > page.limit;
  return { notes: notes.map((entry) => entry.note), next: more ? notes[notes.length - 1]!.member : null };
}

export function searchNotes(state: InstanceState, input: NoteSearch): Array<{ note: Note; score: number }> {
  const owners = new Set(input.owners);
  const stats: SearchStatistics = {
    documents: state.notes.size,
    totalLength: state.notesLength,
    postings: new Map(),
    lengths: new Map(),
  };
  for (const term of input.terms) {
    const allowed = new Map<string, number>();
    for (const [id, tf] of state.postings.get(term) ?? []) {
      const stored = state.notes.get(id);
      if (!stored || !owners.has(stored.owner)) continue;
      allowed.set(id, tf);
      stats.lengths.set(id, stored.vector.length);
    }
    stats.postings.set(term, allowed);
  }
  return rankBm25(stats, input.limit).map(({ id, score }) => ({ note: state.notes.get(id)!.note, score }));
}
