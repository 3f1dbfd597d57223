import { firstPiece, measure, type SplitOptions, skipSpace, splitPieces, splitText } from "./split-text.ts";

/**
 * How an answer longer than a platform's message limit is posted, so that nothing an agent says is dropped without a
 * word. The text is split into messages (split-text.ts) up to the platform's part cap; past the cap the rest goes as a
 * text file after the last message where the adapter can upload one, and otherwise the last message ends with a
 * notice of how much was cut and where the whole answer is (the run in the operator console).
 */
export interface PartsPolicy extends SplitOptions {
  /** The most messages one answer takes; past it the rest becomes a file (or a notice). At least 2. */
  maxParts: number;
}

export interface AnswerFile {
  /** The rest of the answer, from where the last message stops. */
  content: string;
  filename: string;
  /** Says what the file is: the answer's continuation, and how long it is. */
  caption: string;
}

export interface AnswerPlan {
  /** The messages, in order; the last carries the buttons. */
  parts: string[];
  /** What did not fit in the messages, posted after them. */
  file?: AnswerFile;
}

export interface PlanOptions {
  policy: PartsPolicy;
  /** A lower limit for the part that carries buttons (WhatsApp's interactive body), when there are buttons. */
  buttonLimit?: number | undefined;
  /** Whether the adapter can upload the rest as a file. */
  canAttach: boolean;
  /** The run the answer belongs to: the notice says where to read all of it. */
  runId?: string | undefined;
}

export function planAnswer(text: string, options: PlanOptions): AnswerPlan {
  const { policy } = options;
  const unit = policy.unit ?? "utf16";
  const maxParts = Math.max(2, policy.maxParts);
  const pieces = splitPieces(text, policy);
  if (pieces.length <= maxParts)
    return {
      parts: withButtonLimit(
        pieces.map((p) => p.text),
        options,
      ),
    };
  const kept = pieces.slice(0, maxParts - 1);
  const restStart = skipSpace(text, kept.at(-1)!.end);
  if (options.canAttach) {
    const content = text.slice(restStart);
    return {
      parts: withButtonLimit(
        kept.map((p) => p.text),
        options,
      ),
      file: { content, filename: answerFilename(options.runId), caption: continuationCaption(characters(content)) },
    };
  }
  // No upload: the last message takes what fits beside a notice counting the characters it leaves out.
  const rest = text.slice(restStart);
  const room = policy.limit - measure(cutNotice(characters(rest), maxParts, options.runId), unit);
  const last = firstPiece(rest, room, unit);
  const notice = cutNotice(characters(rest.slice(last.end).trim()), maxParts, options.runId);
  return { parts: withButtonLimit([...kept.map((p) => p.text), `${last.text}${notice}`], options) };
}

/** Code points, which is what a reader counts as characters. */
export function characters(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

function continuationCaption(count: number): string {
  return `The answer continues in this file (${count.toLocaleString("en-US")} more characters).`;
}

/** What the last message says when the rest could not be posted as a file. */
export function cutNotice(count: number, maxParts: number, runId: string | undefined): string {
  const where =
    runId !== undefined
      ? ` The whole answer is run ${runId} in the operator console (/console/runs/${runId}).`
      : " Ask for a shorter answer.";
  return `\n\n[${count.toLocaleString("en-US")} more characters are not shown: this chat takes ${maxParts} messages per answer.${where}]`;
}

function answerFilename(runId: string | undefined): string {
  const safe = (runId ?? "").replace(/[^A-Za-z0-9._-]/g, "").slice(0, 64);
  return safe !== "" ? `answer-${safe}.txt` : "answer.txt";
}

/** Buttons ride on the last part: split it again so that part fits the lower limit. */
function withButtonLimit(parts: string[], options: PlanOptions): string[] {
  if (options.buttonLimit === undefined) return parts;
  const last = parts.pop()!;
  const unit = options.policy.unit;
  return [...parts, ...splitText(last, { limit: options.buttonLimit, ...(unit !== undefined ? { unit } : {}) })];
}
