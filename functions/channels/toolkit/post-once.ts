import { LEASE_SECONDS, type OnceResult, runOnce } from "../../../clients/memory/run-once.ts";
import { crashPoint } from "../../../runtime/crash-point.ts";
import type { DeliveryContext, OutboundPost } from "./delivery.ts";
import { withPlatformRetries } from "./platform-call.ts";
import { PlatformError } from "./platform-error.ts";

/**
 * Posting one part of a chat message at most once, even across a crash in the instant between the platform accepting
 * it and the adapter recording that it did.
 *
 * runOnce alone (claim, post, mark done) repeats a post whose holder died after the platform call and before the done
 * mark: the claim's lease runs out and the redelivery posts again. So each platform call is preceded by an intent
 * record (`intent:<key>`, set-if-absent, kept as long as the done mark): an attempt that finds an intent and no done
 * mark knows an earlier attempt may have posted (it died, or its call ended without an answer) and asks the platform
 * instead of posting blindly (`PlatformOutbound.postInDoubt`):
 * - Slack finds the earlier message by the metadata every post carries (conversations.history / .replies);
 * - Discord posts again with the same enforced nonce (Discord answers with the earlier message instead of a second
 *   one), while the nonce is still remembered by Discord;
 * - where the platform offers no way to tell (Telegram, WhatsApp, a Discord interaction follow-up), the part is posted
 *   once more, marked with IN_DOUBT_MARK so the reader knows it may repeat what they already saw: a chat answer is
 *   never silently lost, at the price of a possible visible repeat at that single point, and a warning is logged.
 * A call the platform answered with a refusal (an HTTP status or an error code) posted nothing: its intent is cleared,
 * so the retry is an ordinary post. Only an unanswered call (a transport failure, a timeout) or a crash leaves it.
 */
export const IN_DOUBT_MARK = "(sent again after an interruption) ";

/** How long a posted part is remembered (its done mark and its intent): longer than the broker keeps redelivering. */
export const DEFAULT_KEEP_SECONDS = 7 * 24 * 3600;

interface Intent {
  /** When the earlier attempt was about to call the platform (ms since the epoch). */
  at: number;
}

export function postOnce(ctx: DeliveryContext, post: OutboundPost): Promise<OnceResult<{ ref: string }>> {
  const key = `out:${ctx.outbound.channel}:${post.idempotencyKey}`;
  return runOnce(
    ctx.kv,
    key,
    { leaseSeconds: LEASE_SECONDS, keepSeconds: keepOf(ctx) },
    async () => {
      const posted = await withPlatformRetries(() => attempt(ctx, key, post), ctx.retry);
      // The kill the crash suite aims at: posted, not yet recorded.
      crashPoint("channel.after-post");
      return posted;
    },
    (value) => value.ref,
  );
}

/** One platform call, preceded by its intent; an intent already there makes it a call in doubt. */
async function attempt(ctx: DeliveryContext, key: string, post: OutboundPost): Promise<{ ref: string }> {
  const intentKey = `intent:${key}`;
  const now = Date.now();
  const fresh = await ctx.kv.setIfAbsent(intentKey, JSON.stringify({ at: now } satisfies Intent), keepOf(ctx));
  try {
    if (fresh) return await ctx.outbound.post(post);
    const widest = now - keepOf(ctx) * 1000;
    return await postInDoubt(ctx, key, post, parseIntent(await ctx.kv.get(intentKey), widest));
  } catch (error) {
    // The platform answered: nothing was posted, the next attempt is an ordinary one.
    if (error instanceof PlatformError && (error.httpStatus !== undefined || error.platformCode !== undefined)) {
      await ctx.kv.delete(intentKey);
    }
    throw error;
  }
}

async function postInDoubt(ctx: DeliveryContext, key: string, post: OutboundPost, intent: Intent) {
  const settled = await ctx.outbound.postInDoubt?.(post, new Date(intent.at));
  if (settled !== undefined) return settled;
  ctx.log?.warn({ key }, "a part in doubt was posted again, marked: the platform cannot tell whether it has it");
  const { split, buttonTextLimit } = ctx.outbound;
  const room = post.buttons !== undefined && buttonTextLimit !== undefined ? buttonTextLimit : split.limit;
  // A part already at the platform's limit goes unmarked rather than cut.
  const text = post.text.length + IN_DOUBT_MARK.length <= room ? `${IN_DOUBT_MARK}${post.text}` : post.text;
  return ctx.outbound.post({ ...post, text });
}

function keepOf(ctx: DeliveryContext): number {
  return ctx.keepSeconds ?? DEFAULT_KEEP_SECONDS;
}

function parseIntent(stored: string | undefined, fallback: number): Intent {
  try {
    const at = (JSON.parse(stored ?? "") as Partial<Intent>).at;
    return { at: typeof at === "number" && Number.isFinite(at) ? at : fallback };
  } catch {
    // Gone between the two calls (it expired) or unreadable: the platform is asked about the widest window.
    return { at: fallback };
  }
}
