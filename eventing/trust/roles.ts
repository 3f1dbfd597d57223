/**
 * Producer roles: who signed an event (eventing/trust/README.md). A role names one kind of emitter and, where there
 * are several of that kind, which one:
 * - `agent/<instance>`: an agent instance (it signs with its instance signing key, the one of its capability tokens);
 * - `skill/<name>`: a skill answering tool calls (built-in, MCP or external);
 * - `channel/<type>`: a channel adapter; the `http` channel's adapter is the gateway, so its role is `gateway`;
 * - `gateway`: the HTTP gateway (runs it starts, approvals decided through its API);
 * - `memory`: the memory service (the due-time timers it fires);
 * - `operator`: the person running the platform, signing with `knclaw send --sign` (cli/commands/send.ts): it may only
 *   start runs that name no requester and no session, so it can never speak, decide or answer as anyone else.
 * The catalog (eventing/catalog/producers.ts) says which roles may emit each event type and how the role binds to
 * the event's data.
 */
const DNS_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const ROLE = new RegExp(`^(?:(?:agent|skill|channel)/${DNS_LABEL}|gateway|memory|operator)$`);

export const GATEWAY_ROLE = "gateway";
export const MEMORY_ROLE = "memory";
export const OPERATOR_ROLE = "operator";

export function isProducerRole(text: string): boolean {
  return ROLE.test(text);
}

export const agentRole = (instance: string) => `agent/${instance}`;
export const skillRole = (skill: string) => `skill/${skill}`;

/** The role of the adapter of a channel: the gateway for `http`, `channel/<type>` for every other. */
export function channelRole(channel: string): string {
  return channel === "http" ? GATEWAY_ROLE : `channel/${channel}`;
}
