/**
 * Where the functions' event keys live (eventing/trust/README.md): one Secret of signing keys, one key per producer
 * role (the agents sign with their instance key, `knclaw-agent-keys`, instead), and one Secret holding the trust
 * bundle every consumer reads. `knclaw secrets generate` writes both; the renderer only references them.
 */
const EVENT_KEYS_SECRET = "knclaw-event-keys";
export const EVENT_TRUST_BUNDLE = { secret: "knclaw-event-trust", key: "bundle" } as const;

/** The Secret key of a role's signing key: `channel/slack` -> `channel-slack`, `gateway` -> `gateway`. */
function eventKeyName(role: string): string {
  return role.replace("/", "-");
}

/** The reference of a role's signing key. */
export function eventSigningKeyRef(role: string): { secret: string; key: string } {
  return { secret: EVENT_KEYS_SECRET, key: eventKeyName(role) };
}
