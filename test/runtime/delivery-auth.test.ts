import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { base64url, UnsecuredJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { decodeRequest, encodeBinary } from "../../eventing/cloudevent/http-codec.ts";
import { createFunctionApp } from "../../runtime/app.ts";
import { EnvError } from "../../runtime/env-contract.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import type { Logger } from "../../runtime/log.ts";
import { type Served, serve } from "../../runtime/serve.ts";
import { type FakeIssuer, startFakeIssuer } from "../fakes/oidc/issuer.ts";

/**
 * The delivery route's token check (runtime/delivery-auth.ts), over real HTTP: a function served on its own port, an
 * issuer shaped like the Kubernetes API server's on another, tokens minted by it (or forged) posted with a delivery.
 */
const AUDIENCE = "serving.knative.dev/service/knclaw/channel-slack";
const event = makeEvent(T.PING, { source: "/test", data: {} });

let issuer: FakeIssuer;
let served: Served | undefined;
let delivered: CloudEvent[];
let logged: unknown[];

beforeEach(async () => {
  issuer = await startFakeIssuer();
  delivered = [];
  logged = [];
});

afterEach(async () => {
  vi.useRealTimers();
  await served?.shutdown();
  served = undefined;
  await issuer.close();
});

function oidcEnv(extra: FunctionEnv = {}): FunctionEnv {
  return { KNCLAW_DELIVERY_AUDIENCE: AUDIENCE, KNCLAW_OIDC_ISSUER: issuer.url, ...extra };
}

/** A function taking deliveries with `env`, plus a route of its own, served on an OS-chosen port. */
async function serveFunction(env: FunctionEnv): Promise<string> {
  const logger = { warn: (fields: unknown) => logged.push(fields), error: () => undefined } as unknown as Logger;
  const app = createFunctionApp({
    env,
    logger,
    delivery: {
      decode: (request) => decodeRequest(request),
      handle: (received) => {
        delivered.push(received);
      },
    },
  });
  app.get("/own", (c) => c.json({ public: true }));
  served = await serve(app, { port: 0, host: "127.0.0.1" });
  return served.url;
}

function deliver(url: string, authorization?: string): Promise<Response> {
  const encoded = encodeBinary(event);
  const headers: Record<string, string> = { ...encoded.headers };
  if (authorization !== undefined) headers.authorization = authorization;
  return fetch(`${url}/`, { method: "POST", headers, body: encoded.body as Uint8Array<ArrayBuffer> });
}

async function expectRefused(response: Response, token?: string): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toBe('Bearer realm="knative-eventing"');
  const body = await response.text();
  if (token !== undefined) expect(body).not.toContain(token);
  expect(delivered).toEqual([]);
}

describe("without KNCLAW_DELIVERY_AUDIENCE", () => {
  it("takes deliveries without a token, as a receiver with Knative's OIDC feature off does", async () => {
    const url = await serveFunction({});
    expect((await deliver(url)).status).toBe(200);
    expect(delivered).toHaveLength(1);
  });

  it("refuses to start with an audience but no issuer", () => {
    expect(() =>
      createFunctionApp({
        env: { KNCLAW_DELIVERY_AUDIENCE: AUDIENCE },
        delivery: { decode: (request) => decodeRequest(request), handle: () => undefined },
      }),
    ).toThrow(EnvError);
  });
});

describe("with an audience", () => {
  it("takes a delivery with a valid token for its audience", async () => {
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    const response = await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE })}`);
    expect(response.status).toBe(200);
    expect(delivered.map((e) => e.attributes.id)).toEqual([event.attributes.id]);
  });

  it("finds the keys through the issuer's discovery document when no JWKS URL is set", async () => {
    const url = await serveFunction(oidcEnv());
    expect((await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE })}`)).status).toBe(200);
    expect(issuer.requests).toEqual({ discovery: 1, jwks: 1 });
    expect((await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE })}`)).status).toBe(200);
    expect(issuer.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  it("refuses a delivery with no token, or a header that is not a bearer token, with 401 and a challenge", async () => {
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    await expectRefused(await deliver(url));
    const token = await issuer.token({ audience: AUDIENCE });
    await expectRefused(await deliver(url, `Basic ${token}`), token);
    await expectRefused(await deliver(url, `Bearer  ${token}`), token);
    await expectRefused(await deliver(url, `Bearer ${"a".repeat(9000)}`));
  });

  it("refuses tokens for another audience, expired or not yet valid, of another issuer, or without a subject", async () => {
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    const forged = [
      await issuer.token({ audience: "serving.knative.dev/service/knclaw/agent-ops" }),
      await issuer.token({ audience: AUDIENCE, expiresIn: -120 }),
      await issuer.token({ audience: AUDIENCE, notBefore: 120 }),
      await issuer.token({ audience: AUDIENCE, issuer: "https://kubernetes.default.svc" }),
      await issuer.token({ audience: AUDIENCE, subject: "" }),
    ];
    for (const token of forged) await expectRefused(await deliver(url, `Bearer ${token}`), token);
    expect(logged.every((fields) => !JSON.stringify(fields).includes("eyJ"))).toBe(true);
    expect(logged.map((fields) => (fields as { reason: string }).reason)).toEqual([
      "ERR_JWT_CLAIM_VALIDATION_FAILED",
      "ERR_JWT_EXPIRED",
      "ERR_JWT_CLAIM_VALIDATION_FAILED",
      "ERR_JWT_CLAIM_VALIDATION_FAILED",
      "ERR_JWT_CLAIM_VALIDATION_FAILED",
    ]);
  });

  it("takes a token only from the senders KNCLAW_DELIVERY_SENDERS names (the delivering Triggers): anyone else's is a 403", async () => {
    const trigger = "system:serviceaccount:knclaw:channel-slack-message-send-oidc-eventing.knative.dev-trigger";
    const other = "system:serviceaccount:knclaw:agent-ops-ping-oidc-eventing.knative.dev-trigger";
    const url = await serveFunction(
      oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl, KNCLAW_DELIVERY_SENDERS: ` ${other}, ${trigger} ` }),
    );
    expect((await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE, subject: trigger })}`)).status).toBe(
      200,
    );
    // A valid token for this audience, as any workload can get from the TokenRequest API, of someone else.
    for (const subject of ["system:serviceaccount:knclaw:attacker", "system:serviceaccount:other:channel-slack"]) {
      const token = await issuer.token({ audience: AUDIENCE, subject });
      const response = await deliver(url, `Bearer ${token}`);
      expect(response.status).toBe(403);
      expect(await response.text()).not.toContain(token);
    }
    expect(delivered).toHaveLength(1);
    expect(logged).toEqual([
      { sender: "system:serviceaccount:knclaw:attacker" },
      { sender: "system:serviceaccount:other:channel-slack" },
    ]);
  });

  it("refuses to start with KNCLAW_DELIVERY_SENDERS naming nobody", () => {
    expect(() =>
      createFunctionApp({
        env: oidcEnv({ KNCLAW_DELIVERY_SENDERS: " , " }),
        delivery: { decode: (request) => decodeRequest(request), handle: () => undefined },
      }),
    ).toThrow(EnvError);
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    const [header, payload, signature] = (await issuer.token({ audience: "another" })).split(".");
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!))) as Record<string, unknown>;
    const tampered = base64url.encode(JSON.stringify({ ...claims, aud: AUDIENCE }));
    await expectRefused(await deliver(url, `Bearer ${header}.${tampered}.${signature}`));
  });

  it("refuses alg none and HS256 signed with the issuer's public key, without fetching keys for them", async () => {
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    const unsecured = new UnsecuredJWT({})
      .setIssuer(issuer.url)
      .setSubject("system:serviceaccount:knclaw:broker")
      .setAudience(AUDIENCE)
      .setExpirationTime("1h")
      .encode();
    await expectRefused(await deliver(url, `Bearer ${unsecured}`));
    // The classic confusion: an HMAC "signed" with what a verifier that trusts the token's alg would use as the key.
    const publicJwk = issuer.publicJwks()[0]!;
    const now = Math.floor(Date.now() / 1000);
    const header = base64url.encode(JSON.stringify({ alg: "HS256", typ: "JWT", kid: publicJwk.kid }));
    const payload = base64url.encode(
      JSON.stringify({ iss: issuer.url, sub: "system:serviceaccount:knclaw:broker", aud: AUDIENCE, exp: now + 600 }),
    );
    for (const secret of [JSON.stringify(publicJwk), publicJwk.n!]) {
      const mac = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
      await expectRefused(await deliver(url, `Bearer ${header}.${payload}.${mac}`));
    }
    expect(logged.map((fields) => (fields as { reason: string }).reason)).toEqual([
      "ERR_JOSE_ALG_NOT_ALLOWED",
      "ERR_JOSE_ALG_NOT_ALLOWED",
      "ERR_JOSE_ALG_NOT_ALLOWED",
    ]);
    expect(issuer.requests.jwks).toBe(0);
  });

  it("refuses a token signed by a key the issuer does not serve, reloading the keys at most once per 30 s", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    expect((await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE })}`)).status).toBe(200);
    delivered = [];
    expect(issuer.requests.jwks).toBe(1);
    const stranger = await issuer.newKey();
    const forge = async () => {
      const token = await issuer.token({ audience: AUDIENCE, key: stranger });
      await expectRefused(await deliver(url, `Bearer ${token}`), token);
    };
    // Within the cool-down of the first fetch: refused from the keys at hand.
    await forge();
    await forge();
    expect(issuer.requests.jwks).toBe(1);
    // After it: one reload, and the next made-up key id within 30 s of that costs nothing.
    vi.setSystemTime(Date.now() + 31_000);
    await forge();
    await forge();
    await forge();
    expect(issuer.requests.jwks).toBe(2);
  });

  it("follows a key rotation: a new key id reloads the key set once the cool-down is over", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    const before = await issuer.token({ audience: AUDIENCE });
    expect((await deliver(url, `Bearer ${before}`)).status).toBe(200);
    const next = await issuer.newKey();
    issuer.rotate(next);
    vi.setSystemTime(Date.now() + 31_000);
    expect((await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE })}`)).status).toBe(200);
    expect(issuer.requests.jwks).toBe(2);
    // The retired key is gone from the set: once the token's verification is no longer remembered, it fails.
    delivered = [];
    vi.setSystemTime(Date.now() + 5 * 60_000);
    await expectRefused(await deliver(url, `Bearer ${before}`), before);
  });

  it("stops taking a withdrawn key's tokens, verified ones included, once the key set is renewed (10 minutes)", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    const token = await issuer.token({ audience: AUDIENCE });
    expect((await deliver(url, `Bearer ${token}`)).status).toBe(200);
    issuer.rotate(await issuer.newKey());
    vi.setSystemTime(Date.now() + 6 * 60_000);
    // Past the five minutes a verified token is remembered: verified again, against the key set still held.
    expect((await deliver(url, `Bearer ${token}`)).status).toBe(200);
    expect(issuer.requests.jwks).toBe(1);
    delivered = [];
    vi.setSystemTime(Date.now() + 5 * 60_000);
    await expectRefused(await deliver(url, `Bearer ${token}`), token);
    expect(issuer.requests.jwks).toBe(2);
  });

  it("answers 503 with Retry-After while the keys cannot be fetched, then takes the delivery again", async () => {
    issuer.failWith(500);
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    const token = await issuer.token({ audience: AUDIENCE });
    const refused = await deliver(url, `Bearer ${token}`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(await refused.text()).not.toContain(token);
    expect(delivered).toEqual([]);
    issuer.failWith(undefined);
    expect((await deliver(url, `Bearer ${token}`)).status).toBe(200);
  });

  it("answers 503 when the discovery document names another issuer", async () => {
    issuer.announceIssuer("https://evil.example");
    const url = await serveFunction(oidcEnv());
    expect((await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE })}`)).status).toBe(503);
    expect(issuer.requests.jwks).toBe(0);
    expect(delivered).toEqual([]);
  });

  it("never presents the pod's ServiceAccount token to an issuer that is not the Kubernetes API server", async () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-sa-"));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "pod-service-account-token");
    try {
      const url = await serveFunction(
        oidcEnv({
          KNCLAW_OIDC_JWKS_TOKEN_FILE: tokenFile,
          KUBERNETES_SERVICE_HOST: "10.0.0.1",
          KUBERNETES_SERVICE_PORT: "443",
        }),
      );
      expect((await deliver(url, `Bearer ${await issuer.token({ audience: AUDIENCE })}`)).status).toBe(200);
      expect(issuer.authorizations).toEqual([undefined, undefined]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves the probes and the function's other routes to their own checks", async () => {
    const url = await serveFunction(oidcEnv({ KNCLAW_OIDC_JWKS_URL: issuer.jwksUrl }));
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${url}/own`)).json()).toEqual({ public: true });
    expect(issuer.requests.jwks).toBe(0);
  });
});
