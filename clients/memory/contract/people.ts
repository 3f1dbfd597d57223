import { z } from "zod";
import { DAY_MS, Millis, TimestampMs, UserId, visible } from "./fields.ts";

/** Identity links (one person across channels), pairing codes and the approved senders of an instance. */

export const ChannelName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "lowercase letters, digits and '-'");
/** The platform's own user id; include the workspace when the platform scopes ids by it (e.g. `T012:U345`). */
export const SenderId = visible(256);
export const PairingCode = z.string().regex(/^[A-HJ-NP-Z2-9]{8}$/, "8 characters of A-Z (no I, O) and 2-9");

export const ChannelIdentity = z.strictObject({ channel: ChannelName, sender: SenderId });
export type ChannelIdentity = z.infer<typeof ChannelIdentity>;

export const LinkIdentitiesRequest = z.strictObject({ identities: z.array(ChannelIdentity).min(2).max(20) });
export type LinkIdentitiesRequest = z.infer<typeof LinkIdentitiesRequest>;

/** One person and every identity joined to it. An unlinked identity is its own person, `<channel>:<sender>`. */
export const Person = z.object({ person: UserId, identities: z.array(ChannelIdentity) });
export type Person = z.infer<typeof Person>;

export const PairingRequestBody = z.strictObject({
  channel: ChannelName,
  sender: SenderId,
  displayName: z.string().max(200).optional(),
  ttlMs: Millis(DAY_MS).optional(),
});
export type PairingRequestBody = z.infer<typeof PairingRequestBody>;

export const PairingRecord = z.object({
  code: PairingCode,
  channel: ChannelName,
  sender: SenderId,
  displayName: z.string().optional(),
  status: z.enum(["pending", "approved", "denied"]),
  createdAt: TimestampMs,
  expiresAt: TimestampMs,
  decidedBy: z.string().optional(),
  decidedAt: TimestampMs.optional(),
});
export type PairingRecord = z.infer<typeof PairingRecord>;

export const PairingResponse = z.discriminatedUnion("status", [
  z.object({ status: z.literal("approved") }),
  z.object({
    status: z.literal("pending"),
    code: PairingCode,
    expiresAt: TimestampMs,
    /** False when the sender already had a pending request (same code). */
    created: z.boolean(),
  }),
]);
export type PairingResponse = z.infer<typeof PairingResponse>;

export const ListPairingResponse = z.object({ pending: z.array(PairingRecord) });
export type ListPairingResponse = z.infer<typeof ListPairingResponse>;

export const DecidePairingRequest = z.strictObject({ decidedBy: z.string().min(1).max(200).optional() });
export type DecidePairingRequest = z.infer<typeof DecidePairingRequest>;

export const ApprovedResponse = z.object({ approved: z.boolean() });
export type ApprovedResponse = z.infer<typeof ApprovedResponse>;
