import { createHash } from "node:crypto";
import { MAX_BLOB_CHARS } from "../../../clients/memory/contract/blobs.ts";
import type { BlobRef, CallResult, RunState, TranscriptMessage } from "./state.ts";

/**
 * Run state stays small by construction (ARCHITECTURE.md, "The durable agent loop"): before every commit, message
 * contents and tool answers larger than INLINE_MAX_BYTES move into run blobs of the memory service (content-addressed,
 * kept as long as the run) and the document keeps a reference with a short preview. The context builder reads a blob
 * back only when the model is to see that content in full. What is left must fit RUN_STATE_BUDGET_BYTES, far below
 * the memory service's 1 MiB request limit; a step whose state still does not fit ends the run as `state_too_large`.
 */
const INLINE_MAX_BYTES = 4 * 1024;
const PREVIEW_CHARS = 1024;
/** The size the run document may have after offloading: room for a final step's events and output, with margin. */
export const RUN_STATE_BUDGET_BYTES = 384 * 1024;
/** A final answer as the document keeps it (the events carry at most as much). */
export const MAX_OUTPUT_CHARS = 64 * 1024;

export interface NewBlob {
  sha256: string;
  content: string;
}

/** Moves large contents out of `state` (in place) and answers the blobs to write before it is committed. */
export function offloadLarge(state: RunState): NewBlob[] {
  const blobs = new Map<string, string>();
  const move = (holder: TranscriptMessage | CallResult): void => {
    if (holder.blob !== undefined || Buffer.byteLength(holder.content) <= INLINE_MAX_BYTES) return;
    const content = holder.content.slice(0, MAX_BLOB_CHARS);
    const ref: BlobRef = { sha256: digest(content), bytes: Buffer.byteLength(content) };
    blobs.set(ref.sha256, content);
    holder.blob = ref;
    holder.content = content.slice(0, PREVIEW_CHARS);
  };
  for (const message of state.transcript) if (message.role !== "user") move(message);
  for (const call of state.pending) if (call.result !== undefined) move(call.result);
  return [...blobs].map(([sha256, content]) => ({ sha256, content }));
}

/** The document's size as the memory service will receive it. */
export function stateBytes(state: RunState): number {
  return Buffer.byteLength(JSON.stringify(state));
}

function digest(content: string): string {
  return createHash("sha256").update(content).digest("hex");
}
