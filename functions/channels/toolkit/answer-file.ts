import { LEASE_SECONDS, type OnceResult, runOnce } from "../../../clients/memory/run-once.ts";
import type { ReplyRoute } from "../../../eventing/catalog/shared.ts";
import type { DeliveryContext } from "./delivery.ts";
import { type AnswerFile, characters, cutNotice } from "./long-answer.ts";
import { withPlatformRetries } from "./platform-call.ts";
import { PlatformError } from "./platform-error.ts";
import { DEFAULT_KEEP_SECONDS } from "./post-once.ts";

/**
 * The rest of a long answer as a file (long-answer.ts), uploaded at most once per idempotency key like every part.
 * A platform that refuses the upload for good (a Slack app without `files:write`, a chat that takes no documents)
 * must not lose it silently either: the conversation is told in a message how much was cut and where the whole
 * answer is.
 */
export function attachOnce(
  ctx: DeliveryContext,
  route: ReplyRoute,
  file: AnswerFile,
  idempotencyKey: string,
  runId: string | undefined,
): Promise<OnceResult<{ ref: string }>> {
  const { outbound } = ctx;
  return runOnce(
    ctx.kv,
    `out:${outbound.channel}:${idempotencyKey}`,
    { leaseSeconds: LEASE_SECONDS, keepSeconds: ctx.keepSeconds ?? DEFAULT_KEEP_SECONDS },
    () =>
      withPlatformRetries(async () => {
        try {
          return await outbound.attach!({ ...file, route, idempotencyKey });
        } catch (error) {
          if (!(error instanceof PlatformError) || (error.kind !== "rejected" && error.kind !== "auth")) throw error;
          const text = cutNotice(characters(file.content), outbound.split.maxParts, runId).trim();
          return outbound.post({ route, text, idempotencyKey });
        }
      }, ctx.retry),
    (value) => value.ref,
  );
}
