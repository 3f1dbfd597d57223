import type { Note } from "../../../clients/memory/contract/notes.ts";
import { stateOf } from "../embedded/maps.ts";
import { type CursorPage, listMember } from "../paging.ts";
import type { AddNoteOutcome, NoteMutation, NoteSearch, NoteStore, NoteWrite, UpdateNoteOutcome } from "./store.ts";
import { rankBm25, type SearchStatistics, type TermVector } from "./text-index.ts";

interface StoredNote {
  note: Note;
  vector: TermVector;
  owner: string;
}

interface NotesState {
  notes: Map<string, StoredNote>;
  /** term -> note id -> term frequency. */
  postings: Map<string, Map<string, number>>;
  /** The sum of all notes' lengths (terms), for ranking. */
  notesLength: number;
}

function index(state: NotesState, id: string, vector: TermVector): void {
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

function unindex(state: NotesState, id: string, vector: TermVector): void {
  for (const term of vector.terms.keys()) {
    const postings = state.postings.get(term);
    postings?.delete(id);
    if (postings?.size === 0) state.postings.delete(term);
  }
  state.notesLength -= vector.length;
}

/** Notes and their keyword index in process, per instance. */
export class EmbeddedNoteStore implements NoteStore {
  readonly #instances = new Map<string, NotesState>();

  #of(instance: string): NotesState {
    return stateOf(this.#instances, instance, () => ({ notes: new Map(), postings: new Map(), notesLength: 0 }));
  }

  async get(instance: string, id: string): Promise<Note | undefined> {
    return this.#of(instance).notes.get(id)?.note;
  }

  async add(instance: string, input: NoteWrite & { maxPerOwner: number }): Promise<AddNoteOutcome> {
    const state = this.#of(instance);
    const existing = state.notes.get(input.note.id);
    if (existing) return { kind: "exists", note: existing.note };
    let owned = 0;
    for (const stored of state.notes.values()) if (stored.owner === input.owner) owned += 1;
    if (owned >= input.maxPerOwner) return { kind: "cap_exceeded" };
    state.notes.set(input.note.id, { note: input.note, vector: input.vector, owner: input.owner });
    index(state, input.note.id, input.vector);
    return { kind: "created", note: input.note };
  }

  async update(instance: string, id: string, mutate: NoteMutation): Promise<UpdateNoteOutcome> {
    const state = this.#of(instance);
    const stored = state.notes.get(id);
    if (!stored) return { kind: "missing" };
    const change = mutate(stored.note);
    if (change.kind !== "write") return change;
    unindex(state, id, stored.vector);
    state.notes.set(id, { note: change.note, vector: change.vector, owner: stored.owner });
    index(state, id, change.vector);
    return { kind: "ok", note: change.note };
  }

  async delete(instance: string, id: string): Promise<boolean> {
    const state = this.#of(instance);
    const stored = state.notes.get(id);
    if (!stored) return false;
    unindex(state, id, stored.vector);
    state.notes.delete(id);
    return true;
  }

  async list(instance: string, owner: string, page: CursorPage): Promise<{ notes: Note[]; next: string | null }> {
    const state = this.#of(instance);
    const members = [...state.notes.values()]
      .filter((stored) => stored.owner === owner)
      .map((stored) => ({ member: listMember(stored.note.createdAt, stored.note.id), note: stored.note }))
      .filter((entry) => page.after === undefined || entry.member < page.after)
      .sort((a, b) => (a.member < b.member ? 1 : -1));
    const notes = members.slice(0, page.limit);
    const more = members.length > page.limit;
    return { notes: notes.map((entry) => entry.note), next: more ? notes[notes.length - 1]!.member : null };
  }

  async search(instance: string, input: NoteSearch): Promise<Array<{ note: Note; score: number }>> {
    const state = this.#of(instance);
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
}
