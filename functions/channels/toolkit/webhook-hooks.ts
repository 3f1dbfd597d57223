import { z } from "zod";
import { TaskContract } from "../../../eventing/catalog/contract.ts";
import { InstanceName, ReplyRoute } from "../../../eventing/catalog/shared.ts";

/**
 * The generic signed webhook's hooks (`channels.webhook.hooks` in knclaw.yaml): each hook is a URL
 * (`/channels/webhook/<hook>`) with its own HMAC secret, and a mapping from the delivered payload to a run.requested
 * task for one instance. The payload itself always travels as untrusted content, never as instructions.
 *
 * Signature schemes:
 * - `knclaw`: `X-Knclaw-Timestamp: <unix seconds>` and `X-Knclaw-Signature: sha256=<hex HMAC(secret, "<ts>.<body>")>`,
 *   refused outside a five-minute window; `X-Knclaw-Delivery` (optional) names the delivery for de-duplication.
 * - `github`: `X-Hub-Signature-256: sha256=<hex HMAC(secret, body)>`, de-duplicated on `X-GitHub-Delivery` (GitHub
 *   signs no timestamp, so there is no replay window beyond de-duplication).
 */
const HookName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a DNS label: lowercase letters, digits and '-'");

export const WebhookHook = z
  .object({
    instance: InstanceName,
    /**
     * What the agent is asked to do. `{{path.to.field}}` placeholders are replaced by the payload's value at that path,
     * JSON-encoded and cut to 200 characters, so the operator's words and the sender's data stay distinguishable.
     */
    task: z.string().min(1).max(8192),
    /** Key of the adapter Secret holding this hook's HMAC secret (camelCase; env var in UPPER_SNAKE). */
    secret: z
      .string()
      .regex(/^[a-z][a-zA-Z0-9]{0,63}$/, "a camelCase secret key")
      .default("signingSecret"),
    scheme: z.enum(["knclaw", "github"]).default("knclaw"),
    /** A stricter task contract for runs this hook starts. */
    contract: TaskContract.optional(),
    /** Where the agent's answer goes, e.g. an alerts channel on Slack; without it the run only records its outcome. */
    replyTo: ReplyRoute.optional(),
  })
  .strict();
export type WebhookHook = z.infer<typeof WebhookHook>;

export const WebhookHooks = z.record(HookName, WebhookHook);
export type WebhookHooks = z.infer<typeof WebhookHooks>;
