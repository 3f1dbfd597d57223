import type { ModelMessage, ModelTool } from "../providers/model.ts";
import type { BlobRef, TranscriptMessage } from "../run/state.ts";

/**
 * Fitting a run's own turns into the model's context (ARCHITECTURE.md, "The durable agent loop"). The first user turn
 * and the latest model turn with its tool results are kept; older tool results are elided to a short preview first,
 * then older answers; if the latest results alone are still too large they are cut to a share of what is left, and a
 * conversation that does not fit even so ends the run as `context_exceeded` instead of being sent to a provider that
 * would refuse it.
 *
 * Token counts are estimated as UTF-8 bytes / 3, rounded up. Tokenizers of current models average about four
 * characters of English per token and one to three bytes per token in other scripts and in JSON, so the estimate errs
 * on the safe side. No tokenizer library is loaded: every model family has its own vocabulary, none of the maintained
 * JavaScript tokenizers covers all the providers knclaw speaks to, and their vocabularies cost megabytes that every
 * cold start of a scale-to-zero agent would pay.
 */
export function contextTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text) / 3);
}

const MESSAGE_OVERHEAD = 4;
const TOOL_CALL_OVERHEAD = 8;
const PREVIEW_CHARS = 200;
/** A latest tool result is cut no shorter than this: less would tell the model nothing. */
const MIN_CUT_BYTES = 512;

/** How one transcript message is shown: whole, as a short preview, or cut to this many bytes. */
type Shown = "full" | "elided" | { cutBytes: number };

export interface FittedTranscript {
  shown: Shown[];
  tokens: number;
}

/** The request cannot fit the context even with everything older elided. */
export class ContextOverflow extends Error {
  readonly needed: number;
  readonly available: number;
  constructor(needed: number, available: number) {
    super(`the request needs about ${needed} tokens of context, ${available} are available`);
    this.name = "ContextOverflow";
    this.needed = needed;
    this.available = available;
  }
}

export function toolsTokens(tools: readonly ModelTool[]): number {
  let total = 0;
  for (const tool of tools) {
    total += TOOL_CALL_OVERHEAD + contextTokens(tool.name + tool.description + JSON.stringify(tool.parameters));
  }
  return total;
}

/** Decides how each message of the run's transcript is shown so that all of it takes at most `room` tokens. */
export function fitTranscript(transcript: readonly TranscriptMessage[], room: number): FittedTranscript {
  const shown: Shown[] = transcript.map(() => "full");
  const cost = transcript.map((message) => messageTokens(message, "full"));
  let total = cost.reduce((sum, tokens) => sum + tokens, 0);
  const latest = latestTurnStart(transcript);
  const older = (index: number) => index > 0 && index < latest;
  const show = (index: number, how: Shown) => {
    const tokens = messageTokens(transcript[index]!, how);
    total += tokens - cost[index]!;
    cost[index] = tokens;
    shown[index] = how;
  };
  for (const role of ["tool", "assistant"] as const) {
    for (let i = 0; i < transcript.length && total > room; i++) {
      if (older(i) && transcript[i]!.role === role && messageTokens(transcript[i]!, "elided") < cost[i]!)
        show(i, "elided");
    }
  }
  if (total > room) {
    // The latest results share what the rest leaves; each keeps its beginning.
    const results = transcript.flatMap((message, i) => (i >= latest && message.role === "tool" ? [i] : []));
    const rest = total - results.reduce((sum, i) => sum + cost[i]!, 0);
    const share = Math.floor((room - rest) / Math.max(1, results.length)) - MESSAGE_OVERHEAD - 32;
    const cutBytes = share * 3;
    if (results.length > 0 && cutBytes >= MIN_CUT_BYTES) {
      for (const i of results) if (cost[i]! > share + MESSAGE_OVERHEAD + 32) show(i, { cutBytes });
    }
  }
  if (total > room) throw new ContextOverflow(total, Math.max(0, room));
  return { shown, tokens: total };
}

/** The blobs the fitted transcript shows (whole or cut): what has to be read before the request is built. */
export function blobsShown(transcript: readonly TranscriptMessage[], fitted: FittedTranscript): BlobRef[] {
  return transcript.flatMap((message, i) =>
    message.blob !== undefined && fitted.shown[i] !== "elided" ? [message.blob] : [],
  );
}

/** The transcript as the model sees it; a blob that could not be read is shown as its preview. */
export function renderTranscript(
  transcript: readonly TranscriptMessage[],
  fitted: FittedTranscript,
  blobs: ReadonlyMap<string, string>,
): ModelMessage[] {
  return transcript.map((message, i) => {
    const how = fitted.shown[i]!;
    const whole = message.blob === undefined ? message.content : blobs.get(message.blob.sha256);
    const { blob: _blob, ...plain } = message;
    if (how === "elided" || whole === undefined) return { ...plain, content: elided(message) } as ModelMessage;
    if (how === "full") return { ...plain, content: whole } as ModelMessage;
    return { ...plain, content: cut(whole, how.cutBytes) } as ModelMessage;
  });
}

function messageTokens(message: TranscriptMessage, how: Shown): number {
  let tokens = MESSAGE_OVERHEAD;
  if (how === "full") tokens += Math.ceil((message.blob?.bytes ?? Buffer.byteLength(message.content)) / 3);
  else if (how === "elided") tokens += contextTokens(elided(message));
  else tokens += Math.ceil(how.cutBytes / 3) + 32;
  if (message.role === "assistant") {
    for (const call of message.toolCalls ?? [])
      tokens += TOOL_CALL_OVERHEAD + contextTokens(call.name + call.arguments);
  }
  return tokens;
}

/** Where the latest model turn starts: its assistant message (the first user turn when the model has not answered). */
function latestTurnStart(transcript: readonly TranscriptMessage[]): number {
  for (let i = transcript.length - 1; i > 0; i--) if (transcript[i]!.role === "assistant") return i;
  return transcript.length;
}

function size(message: TranscriptMessage): number {
  return message.blob?.bytes ?? Buffer.byteLength(message.content);
}

function elided(message: TranscriptMessage): string {
  const preview = message.content.slice(0, PREVIEW_CHARS);
  if (message.role === "tool") {
    // Still tool output: marked untrusted like the whole result was.
    return JSON.stringify({
      untrusted: true,
      elided: `an earlier result of ${size(message)} bytes, left out to fit the context`,
      preview,
    });
  }
  return `[an earlier answer of ${size(message)} bytes, left out to fit the context] ${preview}`;
}

function cut(text: string, bytes: number): string {
  const whole = Buffer.from(text);
  if (whole.length <= bytes) return text;
  return `${whole.subarray(0, bytes).toString()}\n[cut: the first ${bytes} of ${whole.length} bytes are shown, to fit the context]`;
}
