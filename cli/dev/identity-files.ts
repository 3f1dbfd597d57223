import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Log } from "../../eventing/broker/log.ts";
import type { IssuedToken } from "../../eventing/broker/oidc/issuer.ts";

/**
 * The identity token files of the functions `knclaw dev` runs (their `KNCLAW_OIDC_TOKEN_FILE`), kept the way the
 * kubelet keeps a projected ServiceAccount token: written before the function starts, rewritten (a new file renamed
 * over the old one) once 80% of its lifetime has passed. They live in a private directory of this session (0700,
 * files 0600) that is removed at shutdown: a token is a credential, and these are for this session's issuer only.
 */
export class IdentityFiles {
  private readonly dir = mkdtempSync(join(tmpdir(), "knclaw-dev-identity-"));
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly mint: (subject: string, audience: string) => Promise<IssuedToken>;
  private readonly log: Log;
  private readonly now: () => number;

  constructor(mint: (subject: string, audience: string) => Promise<IssuedToken>, log: Log, now: () => number) {
    this.mint = mint;
    this.log = log;
    this.now = now;
  }

  /** Write `name`'s token for `subject` and `audience` and keep it fresh; resolves with the file's path. */
  async add(name: string, subject: string, audience: string): Promise<string> {
    const path = join(this.dir, `${name}.jwt`);
    const refresh = async (): Promise<void> => {
      const issued = await this.mint(subject, audience);
      const next = `${path}.${process.pid}.next`;
      writeFileSync(next, issued.token, { mode: 0o600 });
      renameSync(next, path);
      const lifetimeMs = issued.expiresAt * 1000 - this.now();
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          refresh().catch((error: unknown) =>
            this.log.error({ err: error, file: path }, "could not refresh a function's identity token"),
          );
        },
        Math.max(1000, lifetimeMs * 0.8),
      );
      timer.unref();
      this.timers.add(timer);
    };
    await refresh();
    return path;
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
