import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { bundleFunction } from "../../../cli/bundle/bundle.ts";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe("shared HTTP client in a function bundle", () => {
  it("loads undici from its on-demand chunk and sends a request", async () => {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => res.end(`got ${body}`));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const out = await mkdtemp(join(tmpdir(), "knclaw-http-bundle-"));
    cleanup.push(() => rm(out, { recursive: true, force: true }));

    const bundle = await bundleFunction(
      root,
      { name: "probe", main: "test/runtime/http/fixtures/bundled-request.ts" },
      out,
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const { stdout } = await promisify(execFile)(process.execPath, [bundle.file, url], { cwd: out });
    expect(stdout).toBe("200 got from a bundle");
  });
});
