import { z } from "zod";
import { ListQuery, RunId, slug, TimestampMs, UserId, Version } from "./fields.ts";

/** Notes: facts an instance keeps for itself or for a user, searchable by keyword. */

export const NoteId = slug(128);

export const NoteTag = z
  .string()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N}_:.-]{0,63}$/u, "letters, digits, '_', ':', '.' and '-'");
export const NOTE_MAX_CHARS = 8_000;

const NoteOwner = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("instance") }),
  z.object({ kind: z.literal("user"), user: UserId }),
]);

const NoteProvenanceInput = z.strictObject({
  /** The run that wrote the note. */
  runId: RunId.optional(),
  /** Where the fact came from (a tool, a message id, "user said"). */
  source: z.string().min(1).max(200).optional(),
});

export const Note = z.object({
  id: NoteId,
  owner: NoteOwner,
  text: z.string(),
  tags: z.array(NoteTag),
  /** `writtenBy` is set by the service from the caller's token; the rest comes from the caller. */
  provenance: z.object({ runId: RunId.optional(), source: z.string().optional(), writtenBy: z.string() }),
  createdAt: TimestampMs,
  updatedAt: TimestampMs,
  version: Version,
});
export type Note = z.infer<typeof Note>;

export const AddNoteRequest = z.strictObject({
  /** Choose the id to make a retried add harmless; a second add with the same id answers the stored note. */
  id: NoteId.optional(),
  /** Keep the note for this user (a person id) instead of the whole instance. */
  user: UserId.optional(),
  text: z.string().min(1).max(NOTE_MAX_CHARS),
  tags: z.array(NoteTag).max(20).optional(),
  provenance: NoteProvenanceInput.optional(),
});
export type AddNoteRequest = z.infer<typeof AddNoteRequest>;

export const AddNoteResponse = z.object({ note: Note, created: z.boolean() });
export type AddNoteResponse = z.infer<typeof AddNoteResponse>;

export const UpdateNoteRequest = z
  .strictObject({
    text: z.string().min(1).max(NOTE_MAX_CHARS).optional(),
    tags: z.array(NoteTag).max(20).optional(),
    provenance: NoteProvenanceInput.optional(),
    expectedVersion: Version.optional(),
  })
  .refine((body) => body.text !== undefined || body.tags !== undefined, {
    message: "give text or tags",
    path: ["text"],
  });
export type UpdateNoteRequest = z.infer<typeof UpdateNoteRequest>;

export const NoteResponse = z.object({ note: Note });
export type NoteResponse = z.infer<typeof NoteResponse>;

export const ListNotesQuery = ListQuery.extend({ user: UserId.optional() });
export type ListNotesQuery = z.infer<typeof ListNotesQuery>;
export const ListNotesResponse = z.object({ notes: z.array(Note), nextCursor: z.string().nullable() });
export type ListNotesResponse = z.infer<typeof ListNotesResponse>;

export const SearchNotesRequest = z.strictObject({
  query: z.string().min(1).max(1000),
  /** Search this user's notes (and, unless `includeInstance` is false, the instance's). */
  user: UserId.optional(),
  includeInstance: z.boolean().optional(),
  limit: z.int().min(1).max(50).optional(),
  /** Ranking strategy. Only keyword ranking (BM25) exists; a vector index would add a mode here. */
  mode: z.enum(["keyword"]).optional(),
});
export type SearchNotesRequest = z.infer<typeof SearchNotesRequest>;

export const SearchNotesResponse = z.object({
  results: z.array(z.object({ note: Note, score: z.number() })),
});
export type SearchNotesResponse = z.infer<typeof SearchNotesResponse>;
