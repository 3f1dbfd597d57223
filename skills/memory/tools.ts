import { z } from "zod";
import { UserId } from "../../clients/memory/contract/fields.ts";
import { NOTE_MAX_CHARS, NoteTag } from "../../clients/memory/contract/notes.ts";
import { defineTool } from "../package/tool.ts";

const user = UserId.optional().describe(
  "Keep or search the notes of this person (a knclaw person id) instead of the agent's own",
);

const remember = defineTool({
  name: "remember",
  description: "Keep a note in long-term memory: a fact, preference or decision worth knowing in later conversations.",
  input: z
    .object({
      text: z.string().min(1).max(NOTE_MAX_CHARS).describe("The note, written so it makes sense on its own later"),
      tags: z.array(NoteTag).max(20).optional().describe("A few keywords to find it by"),
      user,
      source: z.string().min(1).max(200).optional().describe("Where the fact came from, e.g. 'the user said'"),
    })
    .strict(),
  mutates: true,
  approval: false,
  groups: ["memory:write"],
});

const recall = defineTool({
  name: "recall",
  description: "Search long-term memory for notes relevant to a query, best matches first.",
  input: z
    .object({
      query: z.string().min(1).max(1000),
      user,
      limit: z.number().int().min(1).max(20).default(5),
    })
    .strict(),
  mutates: false,
  approval: false,
  groups: ["memory:read"],
});

/** Forgetting deletes data, so it waits for approval by default. */
const forget = defineTool({
  name: "forget",
  description: "Delete one note from long-term memory by its id (as returned by recall or remember).",
  input: z
    .object({
      id: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[A-Za-z0-9_.:-]+$/, "a note id"),
    })
    .strict(),
  mutates: true,
  approval: true,
  groups: ["memory:write"],
});

export const tools = [remember, recall, forget] as const;
