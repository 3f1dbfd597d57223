import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BrokerClient, BrokerEmitError } from "../../../eventing/client/broker-client.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";

/**
 * The sender's identity (KNCLAW_OIDC_TOKEN_FILE): every event goes to the broker with the token in that file, read
 * again when the file is replaced the way the kubelet rotates a projected token (a new file renamed over the old).
 */
let dir: string;
let headers: IncomingHttpHeaders[];
let sink: string;
let close: () => Promise<void>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "knclaw-identity-"));
  headers = [];
  const server = createServer((req, res) => {
    headers.push(req.headers);
    req.resume();
    req.on("end", () => {
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  sink = `http://127.0.0.1:${(server.address() as AddressInfo).port}/knclaw/default`;
  close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
});

afterEach(async () => {
  await close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (id: string): CloudEvent => ({
  attributes: { specversion: "1.0", id, source: "/test", type: "dev.knclaw.test" },
});

/** Replace the token as the kubelet does: write a new file, then rename it over the old one. */
function rotate(path: string, token: string): void {
  const next = `${path}.next`;
  writeFileSync(next, `${token}\n`);
  renameSync(next, path);
}

describe("the identity token", () => {
  it("goes with every event as a bearer token, and a rotated token from the next event on", async () => {
    const file = join(dir, "broker-token");
    rotate(file, "token-one");
    const client = BrokerClient.fromEnv({ K_SINK: sink, KNCLAW_OIDC_TOKEN_FILE: file });
    await client.emit(event("a"));
    await client.emit(event("b"));
    rotate(file, "token-two");
    await client.emit(event("c"));
    expect(headers.map((h) => h.authorization)).toEqual(["Bearer token-one", "Bearer token-one", "Bearer token-two"]);
  });

  it("is absent without KNCLAW_OIDC_TOKEN_FILE", async () => {
    await BrokerClient.fromEnv({ K_SINK: sink }).emit(event("a"));
    expect(headers[0]!.authorization).toBeUndefined();
  });

  it("fails the emit, naming the file and not sending anything, while the file is missing or empty", async () => {
    const file = join(dir, "broker-token");
    const client = BrokerClient.fromEnv(
      { K_SINK: sink, KNCLAW_OIDC_TOKEN_FILE: file },
      { retries: 1, backoffDelayMs: 1 },
    );
    const missing = await client.emit(event("a")).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(BrokerEmitError);
    expect((missing as Error).message).toContain("IdentityTokenError");
    writeFileSync(file, "\n");
    expect(await client.emit(event("b")).catch((error: unknown) => error)).toBeInstanceOf(BrokerEmitError);
    expect(headers).toEqual([]);
    // Once the token appears (the kubelet writes it shortly after the pod starts), events go out with it.
    rotate(file, "token-one");
    await client.emit(event("c"));
    expect(headers.map((h) => h.authorization)).toEqual(["Bearer token-one"]);
  });
});
