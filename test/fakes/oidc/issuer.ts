/**
 * A fake OIDC issuer shaped like the Kubernetes API server's ServiceAccount issuer: a real HTTP server on loopback
 * serving `/.well-known/openid-configuration` (issuer, `jwks_uri` at `/openid/v1/jwks`, `id_token` / `public` /
 * RS256) and the JWKS, and minting RS256 tokens with a `kid` as the TokenRequest API would (`sub`
 * `system:serviceaccount:<ns>:<name>`, the requested audience, `iat`/`nbf`/`exp`). Keys rotate on demand; the key
 * set can be made to fail; every request is counted (and its Authorization kept) so tests see what a verifier sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { listenOnLoopback } from "../loopback.ts";

interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

interface TokenInit {
  subject?: string;
  audience: string | string[];
  /** Seconds from now; negative for an expired token. Default 3600. */
  expiresIn?: number;
  notBefore?: number;
  issuer?: string;
  /** Extra claims. */
  claims?: JWTPayload;
  /** Sign with a key that is not (or not yet) in the served key set. */
  key?: IssuerKey;
}

export interface FakeIssuer {
  /** The issuer URL (also where discovery is served). */
  url: string;
  jwksUrl: string;
  requests: { discovery: number; jwks: number };
  /** The Authorization header of every request (undefined when there was none). */
  authorizations: Array<string | undefined>;
  /** Mint a token signed by the current key. */
  token(init: TokenInit): Promise<string>;
  /** A key the issuer does not serve (yet): `publish` adds it, `rotate` makes it the signing key. */
  newKey(): Promise<IssuerKey>;
  /** Serve `key` beside the current keys. */
  publish(key: IssuerKey): void;
  /** Sign with `key` from now on and serve only it. */
  rotate(key: IssuerKey): void;
  /** The served public key set, for tests that need a key's material (HS256 confusion). */
  publicJwks(): JWK[];
  /** Make discovery and the key set answer this status (undefined: answer normally). */
  failWith(status: number | undefined): void;
  /** Announce another issuer in the discovery document. */
  announceIssuer(issuer: string | undefined): void;
  close(): Promise<void>;
}

let kids = 0;

async function makeKey(): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = `key-${++kids}`;
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

export async function startFakeIssuer(): Promise<FakeIssuer> {
  let signing = await makeKey();
  let served: IssuerKey[] = [signing];
  let failure: number | undefined;
  let announced: string | undefined;
  const requests = { discovery: 0, jwks: 0 };
  const authorizations: Array<string | undefined> = [];
  let url = "";

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    authorizations.push(req.headers.authorization);
    if (req.method !== "GET") return json(405, { message: "method not allowed" });
    if (req.url === "/.well-known/openid-configuration") {
      requests.discovery++;
      if (failure !== undefined) return json(failure, { message: "failing" });
      return json(200, {
        issuer: announced ?? url,
        jwks_uri: `${url}/openid/v1/jwks`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (req.url === "/openid/v1/jwks") {
      requests.jwks++;
      if (failure !== undefined) return json(failure, { message: "failing" });
      res.writeHead(200, { "content-type": "application/jwk-set+json" });
      return res.end(JSON.stringify({ keys: served.map((key) => key.jwk) }));
    }
    return json(404, { message: "not found" });
  });
  const listening = await listenOnLoopback(server);
  url = `http://127.0.0.1:${listening.port}`;

  return {
    url,
    jwksUrl: `${url}/openid/v1/jwks`,
    requests,
    authorizations,
    async token(init) {
      const key = init.key ?? signing;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...init.claims })
        .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
        .setIssuer(init.issuer ?? url)
        .setSubject(init.subject ?? "system:serviceaccount:knclaw:broker")
        .setAudience(init.audience)
        .setIssuedAt(now)
        .setNotBefore(now + (init.notBefore ?? 0))
        .setExpirationTime(now + (init.expiresIn ?? 3600))
        .sign(key.privateKey);
    },
    newKey: makeKey,
    publish(key) {
      served = [...served, key];
    },
    rotate(key) {
      signing = key;
      served = [key];
    },
    publicJwks: () => served.map((key) => key.jwk),
    failWith(status) {
      failure = status;
    },
    announceIssuer(issuer) {
      announced = issuer;
    },
    close: listening.close,
  };
}
