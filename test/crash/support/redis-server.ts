import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited, waitForOutput } from "../../support/cli-process.ts";

/**
 * A redis-server of the crash suite's own (the shared Redis must not be killed): append-only file with an fsync on
 * every write, in a temp directory, on a port the OS chose. `kill()` is a kill -9; `start()` again reloads the AOF on
 * the same port, as an operator's restart would.
 */
export class OwnRedis {
  readonly dir = mkdtempSync(join(tmpdir(), "knclaw-crash-redis-"));
  port = 0;
  private child: ChildProcess | undefined;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn(
      "redis-server",
      [
        ...["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir],
        ...["--appendonly", "yes", "--appendfsync", "always", "--save", ""],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    await waitForOutput(child, /ready to accept connections/i);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exit = exited(child);
    child.kill("SIGKILL");
    await exit;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A port the OS hands out now (redis-server cannot listen on port 0 itself). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
