import type { Note } from "../../../clients/memory/contract/notes.ts";
import type { Database } from "../embedded/database.ts";
import { type CursorPage, keysetPage, listMember } from "../paging.ts";
import type { AddNoteOutcome, NoteMutation, NoteSearch, NoteStore, NoteWrite, UpdateNoteOutcome } from "./store.ts";
import { rankBm25, type SearchStatistics, type TermVector } from "./text-index.ts";

/**
 * Notes with their owner key, listing member (paging.ts) and BM25 length; postings per term and note; and per
 * instance the corpus statistics ranking needs (kept beside the notes, so a search never counts the whole corpus).
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS notes (
    instance TEXT NOT NULL,
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    member TEXT NOT NULL,
    length INTEGER NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (instance, id)
  );
  CREATE INDEX IF NOT EXISTS notes_by_owner ON notes (instance, owner, member);
  CREATE TABLE IF NOT EXISTS note_postings (
    instance TEXT NOT NULL,
    term TEXT NOT NULL,
    note_id TEXT NOT NULL,
    tf INTEGER NOT NULL,
    PRIMARY KEY (instance, term, note_id)
  );
  CREATE INDEX IF NOT EXISTS note_postings_by_note ON note_postings (instance, note_id);
  CREATE TABLE IF NOT EXISTS note_stats (
    instance TEXT PRIMARY KEY,
    documents INTEGER NOT NULL,
    total_length INTEGER NOT NULL
  );`;

interface NoteRow {
  owner: string;
  length: number;
  note: string;
}

/** Notes and their keyword index in the embedded database, per instance. */
export class EmbeddedNoteStore implements NoteStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  #row(instance: string, id: string): NoteRow | undefined {
    return this.#db.get<NoteRow>("SELECT owner, length, note FROM notes WHERE instance = ? AND id = ?", instance, id);
  }

  #index(instance: string, id: string, vector: TermVector): void {
    for (const [term, tf] of vector.terms) {
      this.#db.run(
        "INSERT INTO note_postings (instance, term, note_id, tf) VALUES (?, ?, ?, ?)",
        instance,
        term,
        id,
        tf,
      );
    }
  }

  #unindex(instance: string, id: string): void {
    this.#db.run("DELETE FROM note_postings WHERE instance = ? AND note_id = ?", instance, id);
  }

  #count(instance: string, documents: number, length: number): void {
    this.#db.run(
      `INSERT INTO note_stats (instance, documents, total_length) VALUES (?, ?, ?)
       ON CONFLICT (instance) DO UPDATE SET documents = documents + excluded.documents,
         total_length = total_length + excluded.total_length`,
      instance,
      documents,
      length,
    );
  }

  #store(instance: string, note: Note, owner: string, vector: TermVector): void {
    this.#db.run(
      "INSERT OR REPLACE INTO notes (instance, id, owner, member, length, note) VALUES (?, ?, ?, ?, ?, ?)",
      instance,
      note.id,
      owner,
      listMember(note.createdAt, note.id),
      vector.length,
      JSON.stringify(note),
    );
    this.#index(instance, note.id, vector);
  }

  async get(instance: string, id: string): Promise<Note | undefined> {
    const row = this.#db.read(() => this.#row(instance, id));
    return row && (JSON.parse(row.note) as Note);
  }

  async add(instance: string, input: NoteWrite & { maxPerOwner: number }): Promise<AddNoteOutcome> {
    return this.#db.write(() => {
      const existing = this.#row(instance, input.note.id);
      if (existing) return { kind: "exists", note: JSON.parse(existing.note) as Note };
      const { owned } = this.#db.get<{ owned: number }>(
        "SELECT count(*) AS owned FROM notes WHERE instance = ? AND owner = ?",
        instance,
        input.owner,
      )!;
      if (owned >= input.maxPerOwner) return { kind: "cap_exceeded" };
      this.#store(instance, input.note, input.owner, input.vector);
      this.#count(instance, 1, input.vector.length);
      return { kind: "created", note: input.note };
    });
  }

  async update(instance: string, id: string, mutate: NoteMutation): Promise<UpdateNoteOutcome> {
    return this.#db.write(() => {
      const row = this.#row(instance, id);
      if (!row) return { kind: "missing" };
      const change = mutate(JSON.parse(row.note) as Note);
      if (change.kind !== "write") return change;
      this.#unindex(instance, id);
      this.#store(instance, change.note, row.owner, change.vector);
      this.#count(instance, 0, change.vector.length - row.length);
      return { kind: "ok", note: change.note };
    });
  }

  async delete(instance: string, id: string): Promise<boolean> {
    return this.#db.write(() => {
      const row = this.#row(instance, id);
      if (!row) return false;
      this.#unindex(instance, id);
      this.#db.run("DELETE FROM notes WHERE instance = ? AND id = ?", instance, id);
      this.#count(instance, -1, -row.length);
      return true;
    });
  }

  async list(instance: string, owner: string, page: CursorPage): Promise<{ notes: Note[]; next: string | null }> {
    const rows = this.#db.read(() =>
      this.#db.all<{ member: string; note: string }>(
        `SELECT member, note FROM notes WHERE instance = ? AND owner = ? AND (? IS NULL OR member < ?)
         ORDER BY member DESC LIMIT ?`,
        instance,
        owner,
        page.after ?? null,
        page.after ?? null,
        page.limit + 1,
      ),
    );
    const { shown, next } = keysetPage(rows, page.limit, (row) => row.member);
    return { notes: shown.map((row) => JSON.parse(row.note) as Note), next };
  }

  async search(instance: string, input: NoteSearch): Promise<Array<{ note: Note; score: number }>> {
    return this.#db.read(() => {
      const owners = new Set(input.owners);
      const corpus = this.#db.get<{ documents: number; total_length: number }>(
        "SELECT documents, total_length FROM note_stats WHERE instance = ?",
        instance,
      );
      const stats: SearchStatistics = {
        documents: corpus?.documents ?? 0,
        totalLength: corpus?.total_length ?? 0,
        postings: new Map(),
        lengths: new Map(),
      };
      for (const term of input.terms) {
        const allowed = new Map<string, number>();
        const postings = this.#db.iterate<{ note_id: string; tf: number; owner: string; length: number }>(
          `SELECT p.note_id, p.tf, n.owner, n.length FROM note_postings p
           JOIN notes n ON n.instance = p.instance AND n.id = p.note_id
           WHERE p.instance = ? AND p.term = ?`,
          instance,
          term,
        );
        for (const posting of postings) {
          if (!owners.has(posting.owner)) continue;
          allowed.set(posting.note_id, posting.tf);
          stats.lengths.set(posting.note_id, posting.length);
        }
        stats.postings.set(term, allowed);
      }
      return rankBm25(stats, input.limit).map(({ id, score }) => ({
        note: JSON.parse(this.#row(instance, id)!.note) as Note,
        score,
      }));
    });
  }
}
