import type { Note } from "../../../clients/memory/contract/notes.ts";
import { type CursorPage, keysetPage, listMember } from "../paging.ts";
import { execReplies, guard, Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { StoreUnavailableError } from "../stores.ts";
import { ADD_NOTE, DELETE_NOTE, UPDATE_NOTE } from "./lua.ts";
import type { AddNoteOutcome, NoteMutation, NoteSearch, NoteStore, NoteWrite, UpdateNoteOutcome } from "./store.ts";
import { rankBm25, type SearchStatistics, type TermVector } from "./text-index.ts";

const add = new Script(ADD_NOTE);
const update = new Script(UPDATE_NOTE);
const remove = new Script(DELETE_NOTE);
/** Attempts of an optimistic read-then-write before giving up with 503 (the client retries later). */
const ATTEMPTS = 8;

interface NoteMeta {
  version: number;
  length: number;
  member: string;
  owner: string;
}

function encodeMeta(note: Note, length: number, owner: string): string {
  return `${note.version}|${length}|${listMember(note.createdAt, note.id)}|${owner}`;
}

function decodeMeta(raw: string): NoteMeta {
  const [version, length, member] = raw.split("|", 3) as [string, string, string];
  const owner = raw.slice(version.length + length.length + member.length + 3);
  return { version: Number(version), length: Number(length), member, owner };
}

function encodeTerms(vector: TermVector): string {
  return [...vector.terms].map(([term, tf]) => `${term} ${tf}`).join(" ");
}

function decodeTerms(raw: string): Map<string, number> {
  const terms = new Map<string, number>();
  const parts = raw === "" ? [] : raw.split(" ");
  for (let i = 0; i + 1 < parts.length; i += 2) terms.set(parts[i]!, Number(parts[i + 1]));
  return terms;
}

/** The note, its meta and its indexed terms as one consistent read. */
async function readStored(ctx: RedisContext, instance: string, id: string) {
  const { keys } = ctx;
  const [note, meta, terms] = (await execReplies(
    ctx.client
      .multi()
      .hget(keys.notes(instance), id)
      .hget(keys.noteMeta(instance), id)
      .hget(keys.noteTerms(instance), id),
  )) as Array<string | null>;
  if (!note || !meta) return undefined;
  return { note: JSON.parse(note) as Note, meta: decodeMeta(meta), terms: decodeTerms(terms ?? "") };
}

async function notesByIds(ctx: RedisContext, instance: string, ids: string[]): Promise<Array<Note | undefined>> {
  if (ids.length === 0) return [];
  const raws = await guard(() => ctx.client.hmget(ctx.keys.notes(instance), ...ids));
  return raws.map((raw) => (raw === null ? undefined : (JSON.parse(raw) as Note)));
}

/** Notes and their keyword index on Redis (scripts in lua.ts). */
export class RedisNoteStore implements NoteStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async add(instance: string, input: NoteWrite & { maxPerOwner: number }): Promise<AddNoteOutcome> {
    const { keys } = this.#ctx;
    const { note, vector, owner } = input;
    const terms = [...vector.terms];
    const reply = await add.run<[number, string?]>(
      this.#ctx.client,
      [
        keys.notes(instance),
        keys.noteMeta(instance),
        keys.noteTerms(instance),
        keys.notesByOwner(instance, owner),
        keys.noteStats(instance),
        ...terms.map(([term]) => keys.posting(instance, term)),
      ],
      [
        note.id,
        JSON.stringify(note),
        encodeMeta(note, vector.length, owner),
        encodeTerms(vector),
        listMember(note.createdAt, note.id),
        input.maxPerOwner,
        vector.length,
        ...terms.map(([, tf]) => tf),
      ],
    );
    if (reply[0] === 1) return { kind: "created", note };
    if (reply[0] === -1) return { kind: "cap_exceeded" };
    return { kind: "exists", note: JSON.parse(reply[1]!) as Note };
  }

  async get(instance: string, id: string): Promise<Note | undefined> {
    const raw = await guard(() => this.#ctx.client.hget(this.#ctx.keys.notes(instance), id));
    return raw === null ? undefined : (JSON.parse(raw) as Note);
  }

  async update(instance: string, id: string, mutate: NoteMutation): Promise<UpdateNoteOutcome> {
    const { keys } = this.#ctx;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const stored = await readStored(this.#ctx, instance, id);
      if (!stored) return { kind: "missing" };
      const change = mutate(stored.note);
      if (change.kind !== "write") return change;
      const touched = [...new Set([...stored.terms.keys(), ...change.vector.terms.keys()])];
      const reply = await update.run<[number]>(
        this.#ctx.client,
        [
          keys.notes(instance),
          keys.noteMeta(instance),
          keys.noteTerms(instance),
          keys.noteStats(instance),
          ...touched.map((term) => keys.posting(instance, term)),
        ],
        [
          id,
          stored.meta.version,
          JSON.stringify(change.note),
          encodeMeta(change.note, change.vector.length, stored.meta.owner),
          encodeTerms(change.vector),
          change.vector.length - stored.meta.length,
          ...touched.map((term) => change.vector.terms.get(term) ?? 0),
        ],
      );
      if (reply[0] === 1) return { kind: "ok", note: change.note };
      if (reply[0] === -1) return { kind: "missing" };
    }
    throw new StoreUnavailableError("note kept changing during the update");
  }

  async delete(instance: string, id: string): Promise<boolean> {
    const { keys } = this.#ctx;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const stored = await readStored(this.#ctx, instance, id);
      if (!stored) return false;
      const terms = [...stored.terms.keys()];
      const reply = await remove.run<[number]>(
        this.#ctx.client,
        [
          keys.notes(instance),
          keys.noteMeta(instance),
          keys.noteTerms(instance),
          keys.noteStats(instance),
          keys.notesByOwner(instance, stored.meta.owner),
          ...terms.map((term) => keys.posting(instance, term)),
        ],
        [id, stored.meta.version, stored.meta.member, stored.meta.length],
      );
      if (reply[0] === 1) return true;
      if (reply[0] === -1) return false;
    }
    throw new StoreUnavailableError("note kept changing during the delete");
  }

  async list(instance: string, owner: string, page: CursorPage): Promise<{ notes: Note[]; next: string | null }> {
    const members = await guard(() =>
      this.#ctx.client.zrevrangebylex(
        this.#ctx.keys.notesByOwner(instance, owner),
        page.after === undefined ? "+" : `(${page.after}`,
        "-",
        "LIMIT",
        0,
        page.limit + 1,
      ),
    );
    const { shown, next } = keysetPage(members, page.limit, (member) => member);
    const notes = await notesByIds(
      this.#ctx,
      instance,
      shown.map((member) => member.slice(16)),
    );
    return {
      notes: notes.filter((note): note is Note => note !== undefined),
      next,
    };
  }

  async search(instance: string, input: NoteSearch): Promise<Array<{ note: Note; score: number }>> {
    const { keys } = this.#ctx;
    const pipeline = this.#ctx.client.pipeline();
    pipeline.hmget(keys.noteStats(instance), "docs", "len");
    for (const term of input.terms) pipeline.zrange(keys.posting(instance, term), 0, "-1", "WITHSCORES");
    const values = (await execReplies(pipeline)) as string[][];
    const [documents, totalLength] = (values[0] ?? []).map((value) => Number(value ?? 0));
    const candidates = new Set<string>();
    const raw = input.terms.map((term, i) => {
      const flat = values[i + 1] ?? [];
      const postings = new Map<string, number>();
      for (let j = 0; j < flat.length; j += 2) {
        postings.set(flat[j]!, Number(flat[j + 1]));
        candidates.add(flat[j]!);
      }
      return [term, postings] as const;
    });
    const ids = [...candidates];
    const metas = ids.length === 0 ? [] : await guard(() => this.#ctx.client.hmget(keys.noteMeta(instance), ...ids));
    const owners = new Set(input.owners);
    const lengths = new Map<string, number>();
    metas.forEach((meta, i) => {
      if (meta === null) return;
      const decoded = decodeMeta(meta);
      if (owners.has(decoded.owner)) lengths.set(ids[i]!, decoded.length);
    });
    const stats: SearchStatistics = {
      documents: documents ?? 0,
      totalLength: totalLength ?? 0,
      postings: new Map(
        raw.map(([term, postings]) => [term, new Map([...postings].filter(([id]) => lengths.has(id)))]),
      ),
      lengths,
    };
    const ranked = rankBm25(stats, input.limit);
    const notes = await notesByIds(
      this.#ctx,
      instance,
      ranked.map((entry) => entry.id),
    );
    return ranked.flatMap((entry, i) => (notes[i] ? [{ note: notes[i], score: entry.score }] : []));
  }
}
