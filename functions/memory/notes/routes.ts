import {
  AddNoteRequest,
  type AddNoteResponse,
  ListNotesQuery,
  type ListNotesResponse,
  type Note,
  NoteId,
  type NoteResponse,
  SearchNotesRequest,
  type SearchNotesResponse,
  UpdateNoteRequest,
} from "../../../clients/memory/contract/notes.ts";
import { memoryError, notFound } from "../http/errors.ts";
import { readParam, readQuery } from "../http/request.ts";
import { body, instanceFor, type MemoryApp, type MemoryContext, type RouteDeps } from "../http/routes.ts";
import { newId } from "../ids.ts";
import { decodeCursor, encodeCursor } from "../paging.ts";
import { type NoteStore, noteOwnerKey } from "./store.ts";
import { queryTerms, termVector } from "./text-index.ts";

const DEFAULT_SEARCH_LIMIT = 10;

function provenance(runId: string | undefined, source: string | undefined, writtenBy: string): Note["provenance"] {
  return {
    ...(runId === undefined ? {} : { runId }),
    ...(source === undefined ? {} : { source }),
    writtenBy,
  };
}

function noteIdOf(c: MemoryContext): string {
  return readParam(c, "id", NoteId);
}

export function noteRoutes(app: MemoryApp, notes: NoteStore, deps: RouteDeps): void {
  app.post("/v1/instances/:instance/notes", async (c) => {
    const instance = instanceFor(c, "notes");
    const request = await body(c, deps, AddNoteRequest);
    const now = deps.now();
    const tags = request.tags ?? [];
    const note: Note = {
      id: request.id ?? newId("note"),
      owner: request.user === undefined ? { kind: "instance" } : { kind: "user", user: request.user },
      text: request.text,
      tags,
      provenance: provenance(request.provenance?.runId, request.provenance?.source, c.get("principal").label),
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    const outcome = await notes.add(instance, {
      note,
      vector: termVector(note.text, tags),
      owner: noteOwnerKey(request.user),
      maxPerOwner: deps.config.maxNotesPerOwner,
    });
    if (outcome.kind === "cap_exceeded") {
      throw memoryError(409, "cap_exceeded", `at most ${deps.config.maxNotesPerOwner} notes are kept per owner`);
    }
    const answer: AddNoteResponse = { note: outcome.note, created: outcome.kind === "created" };
    return c.json(answer, answer.created ? 201 : 200);
  });

  app.get("/v1/instances/:instance/notes", async (c) => {
    const instance = instanceFor(c, "notes");
    const query = readQuery(c, ListNotesQuery);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) {
      throw memoryError(400, "invalid_request", "query.cursor: not a cursor of this listing");
    }
    const page = await notes.list(instance, noteOwnerKey(query.user), { after, limit: query.limit ?? 50 });
    const answer: ListNotesResponse = {
      notes: page.notes,
      nextCursor: page.next === null ? null : encodeCursor(page.next),
    };
    return c.json(answer);
  });

  app.post("/v1/instances/:instance/notes/search", async (c) => {
    const instance = instanceFor(c, "notes");
    const request = await body(c, deps, SearchNotesRequest);
    const owners =
      request.user === undefined
        ? [noteOwnerKey(undefined)]
        : [noteOwnerKey(request.user), ...(request.includeInstance === false ? [] : [noteOwnerKey(undefined)])];
    const terms = queryTerms(request.query);
    const results =
      terms.length === 0
        ? []
        : await notes.search(instance, { terms, owners, limit: request.limit ?? DEFAULT_SEARCH_LIMIT });
    const answer: SearchNotesResponse = { results };
    return c.json(answer);
  });

  app.get("/v1/instances/:instance/notes/:id", async (c) => {
    const instance = instanceFor(c, "notes");
    const note = await notes.get(instance, noteIdOf(c));
    if (!note) throw notFound("note");
    const answer: NoteResponse = { note };
    return c.json(answer);
  });

  app.patch("/v1/instances/:instance/notes/:id", async (c) => {
    const instance = instanceFor(c, "notes");
    const id = noteIdOf(c);
    const request = await body(c, deps, UpdateNoteRequest);
    const now = deps.now();
    const writtenBy = c.get("principal").label;
    const outcome = await notes.update(instance, id, (current) => {
      if (request.expectedVersion !== undefined && request.expectedVersion !== current.version) {
        return { kind: "version_mismatch", version: current.version };
      }
      const note: Note = {
        ...current,
        text: request.text ?? current.text,
        tags: request.tags ?? current.tags,
        // Provenance describes the latest write.
        provenance: provenance(request.provenance?.runId, request.provenance?.source, writtenBy),
        updatedAt: now,
        version: current.version + 1,
      };
      return { kind: "write", note, vector: termVector(note.text, note.tags) };
    });
    if (outcome.kind === "missing") throw notFound("note");
    if (outcome.kind === "version_mismatch") {
      throw memoryError(412, "version_mismatch", "the note has another version", { currentVersion: outcome.version });
    }
    const answer: NoteResponse = { note: outcome.note };
    return c.json(answer);
  });

  app.delete("/v1/instances/:instance/notes/:id", async (c) => {
    const instance = instanceFor(c, "notes");
    if (!(await notes.delete(instance, noteIdOf(c)))) throw notFound("note");
    return c.body(null, 204);
  });
}
