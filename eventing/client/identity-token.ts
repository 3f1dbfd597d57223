import { readFile, stat } from "node:fs/promises";

/**
 * A function's identity for the broker: the token in `KNCLAW_OIDC_TOKEN_FILE` (runtime/platform-env.ts). On Kubernetes
 * that is a projected ServiceAccount token for the Broker's audience, which the kubelet replaces before it expires
 * (it swaps the volume's `..data` symlink); under `knclaw dev`, a file the dev runtime rewrites. The file is read again
 * whenever it changed (inode, size or modification time), so a rotated token is used from the next event on and an
 * unchanged one costs a `stat`. The token is never logged: failures name the file, not its content.
 */
export class IdentityTokenFile {
  private readonly path: string;
  private cached: { signature: string; token: string } | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** The current token; throws IdentityTokenError when there is none to read (the sender retries: it may appear). */
  async current(): Promise<string> {
    let token: string;
    let signature: string;
    try {
      const info = await stat(this.path);
      signature = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (this.cached?.signature === signature) return this.cached.token;
      token = (await readFile(this.path, "utf8")).trim();
    } catch (error) {
      throw new IdentityTokenError(`the identity token file ${this.path} cannot be read`, { cause: error });
    }
    if (token === "") throw new IdentityTokenError(`the identity token file ${this.path} is empty`);
    this.cached = { signature, token };
    return token;
  }
}

class IdentityTokenError extends Error {
  override readonly name = "IdentityTokenError";
}
