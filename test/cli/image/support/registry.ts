/**
 * A container registry of the test's own on loopback (Debian's `docker-registry`, the CNCF distribution registry),
 * on a port the OS chooses, storing into a temporary directory: `knclaw image build --push` is tested against it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface OwnRegistry {
  /** `127.0.0.1:<port>`, the host part of image references. */
  host: string;
  stop(): Promise<void>;
}

export async function ownRegistry(): Promise<OwnRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "knclaw-registry-"));
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\nhttp:\n  addr: 127.0.0.1:0\n`,
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
  const host = await new Promise<string>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        child.stdout!.off("data", onData);
        child.stderr!.off("data", onData);
        resolve(match[1]!);
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", onData);
    child.once("error", (error) =>
      reject(
        new Error(
          `docker-registry could not start (.ci/run installs it: apt-get install docker-registry): ${error.message}`,
        ),
      ),
    );
    child.once("exit", (code) => reject(new Error(`docker-registry exited (${code}) before listening:\n${output}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    host,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
