import { OPERATOR_ROLE } from "../../eventing/trust/roles.ts";
import { publishSessionToken } from "../session-tokens.ts";
import type { DevRuntime } from "./start-dev.ts";

/**
 * What `knclaw send` posts to a `knclaw dev` session's brokers with: its identity token and the operator's signing key.
 *
 * The identity `knclaw send` posts to the brokers of a `knclaw dev` session with OIDC on: a token of the ServiceAccount
 * `knclaw-cli` in the first broker's namespace, for every broker's audience, in the session's private file for the
 * broker API (cli/session-tokens.ts), rewritten at 80% of its hour as a projected token would be. As any sender it is
 * subject to the brokers' EventPolicies (allow-same-namespace lets it post when no policy applies); the listing names
 * it so a policy can allow it. Never returns or prints the token.
 */
const CLI_SERVICE_ACCOUNT = "knclaw-cli";

export async function announceDevSender(runtime: DevRuntime): Promise<{ lines: string[]; cleanup: () => void }> {
  const signing = announceOperatorKey(runtime);
  const identity = await announceSenderToken(runtime);
  // The identity's lines open with the blank line that separates this block from the listing above.
  const lines = [...identity.lines, ...signing.lines];
  if (identity.lines.length === 0 && lines.length > 0) lines.unshift("");
  return {
    lines,
    cleanup: () => {
      identity.cleanup();
      signing.cleanup();
    },
  };
}

/**
 * The operator's event signing key (role `operator`: it may start runs naming no requester, nothing else;
 * eventing/catalog/producers.ts), which `knclaw send --sign` finds in the session's private file for its port, as it
 * finds the identity token. The key is the one this session generated and keeps in its state directory.
 */
function announceOperatorKey(runtime: DevRuntime): { lines: string[]; cleanup: () => void } {
  const first = runtime.brokers[0];
  const key = first === undefined ? undefined : runtime.signingKeyOf(OPERATOR_ROLE, first.namespace);
  if (key === undefined) return { lines: [], cleanup: () => {} };
  const published = publishSessionToken("operator-signing-key", runtime.port, key);
  const where = published.path !== undefined ? `key in ${published.path}` : `no key file: ${published.problem}`;
  return { lines: [`Signing (knclaw send --sign): as ${OPERATOR_ROLE}, ${where}`], cleanup: published.cleanup };
}

async function announceSenderToken(runtime: DevRuntime): Promise<{ lines: string[]; cleanup: () => void }> {
  const oidc = runtime.oidc;
  const first = runtime.brokers[0];
  if (oidc === undefined || first === undefined) return { lines: [], cleanup: () => {} };
  const subject = `system:serviceaccount:${first.namespace}:${CLI_SERVICE_ACCOUNT}`;
  const audiences = runtime.brokers.map((broker) => broker.broker.admission!.audience);
  let timer: NodeJS.Timeout | undefined;
  let cleanup = () => {};
  const publish = async (): Promise<string> => {
    const issued = await oidc.issuer.mint(subject, audiences);
    cleanup();
    const published = publishSessionToken("broker", runtime.port, issued.token);
    cleanup = published.cleanup;
    timer = setTimeout(
      () => {
        publish().catch(() => undefined);
      },
      (issued.expiresAt * 1000 - Date.now()) * 0.8,
    );
    timer.unref();
    return published.path !== undefined ? `token in ${published.path}` : `no token file: ${published.problem}`;
  };
  const where = await publish();
  return {
    lines: ["", `Sending (knclaw send): as ${subject}, ${where}`],
    cleanup: () => {
      clearTimeout(timer);
      cleanup();
    },
  };
}
