import { createHash } from "node:crypto";
import { type MemoryClient, MemoryError } from "../../clients/memory/client.ts";
import type { Note } from "../../clients/memory/contract/notes.ts";
import type { ToolContext, ToolHandlers } from "../package/tool.ts";
import { ToolFailure } from "../runtime/tool-error.ts";
import type { tools } from "./tools.ts";

/**
 * remember / recall / forget over the memory service. The skill's token may open the notes of any instance, so the
 * instance is never taken from the arguments: it is the one the verified capability token names (context.instance),
 * and every call goes to that instance's notes only.
 */
export interface MemorySkillOptions {
  client: Pick<MemoryClient, "addNote" | "searchNotes" | "deleteNote">;
}

export function createMemoryHandlers(options: MemorySkillOptions): ToolHandlers<typeof tools> {
  const { client } = options;
  const guarded = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw memoryFailure(error);
    }
  };
  return {
    remember: (args, context) =>
      guarded(async () => {
        const { note, created } = await client.addNote(context.instance, {
          // Derived from the call: a redelivered call (or a retry after a lost answer) stores the note once.
          id: noteIdFor(context),
          text: args.text,
          ...(args.tags ? { tags: args.tags } : {}),
          ...(args.user ? { user: args.user } : {}),
          provenance: { runId: context.runId, source: args.source ?? "memory skill" },
        });
        return { id: note.id, created, ...shown(note) };
      }),
    recall: (args, context) =>
      guarded(async () => {
        const results = await client.searchNotes(context.instance, {
          query: args.query,
          limit: args.limit,
          ...(args.user ? { user: args.user } : {}),
        });
        return {
          notes: results.map(({ note, score }) => ({
            id: note.id,
            score: Math.round(score * 1000) / 1000,
            ...shown(note),
          })),
        };
      }),
    forget: (args, context) =>
      guarded(async () => {
        const deleted = await client.deleteNote(context.instance, args.id);
        if (!deleted) throw new ToolFailure("NotFound", `no note ${args.id}`);
        return { forgotten: args.id };
      }),
  };
}

export function noteIdFor(context: Pick<ToolContext, "runId" | "callId">): string {
  return `note_${createHash("sha256").update(context.runId).update("\u0000").update(context.callId).digest("hex").slice(0, 32)}`;
}

function shown(note: Note) {
  return {
    text: note.text,
    tags: note.tags,
    owner: note.owner.kind === "user" ? `user:${note.owner.user}` : "instance",
    updatedAt: new Date(note.updatedAt).toISOString(),
  };
}

function memoryFailure(error: unknown): ToolFailure {
  if (error instanceof ToolFailure) return error;
  if (!(error instanceof MemoryError)) return new ToolFailure("Internal", "the memory request failed unexpectedly");
  if (error.code === "timeout") return new ToolFailure("Timeout", "the memory service did not answer in time");
  if (error.status === 0) return new ToolFailure("Unavailable", "the memory service is unreachable");
  switch (error.status) {
    case 400:
    case 413:
    case 422:
      return new ToolFailure("ValidationFailed", error.message);
    case 401:
      return new ToolFailure("AuthExpired", "the memory service refused the skill's token", { retryable: false });
    case 403:
      return new ToolFailure("PermissionDenied", error.message);
    case 404:
      return new ToolFailure("NotFound", error.message);
    case 409:
    case 412:
      return new ToolFailure("Conflict", error.message);
    case 429:
      return new ToolFailure("RateLimited", error.message);
    default:
      return error.status >= 500
        ? new ToolFailure("Unavailable", error.message)
        : new ToolFailure("Internal", error.message);
  }
}
