import { publishSessionToken } from "../session-tokens.ts";
import type { DevRuntime } from "./start-dev.ts";

/**
 * The identity `knclaw send` posts to the brokers of a `knclaw dev` session with OIDC on: a token of the ServiceAccount
 * `knclaw-cli` in the first broker's namespace, for every broker's audience, in the session's private file for the
 * broker API (cli/session-tokens.ts), rewritten at 80% of its hour as a projected token would be. As any sender it is
 * subject to the brokers' EventPolicies (allow-same-namespace lets it post when no policy applies); the listing names
 * it so a policy can allow it. Never returns or prints the token.
 */
const CLI_SERVICE_ACCOUNT = "knclaw-cli";

export async function announceDevSender(runtime: DevRuntime): Promise<{ lines: string[]; cleanup: () => void }> {
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
