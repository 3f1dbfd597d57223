import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import { decodeRequest, encodeBinary } from "../../eventing/cloudevent/http-codec.ts";
import { createFunctionApp } from "../../runtime/app.ts";
import type { FunctionEnv } from "../../runtime/function.ts";
import { type Served, serve } from "../../runtime/serve.ts";
import { createNamespace, freshName, type TestCluster, useTestCluster } from "../knative/deploy/support/cluster.ts";

/**
 * Delivery tokens issued by a real Kubernetes API server (TokenRequest, as Knative's token provider gets them),
 * verified by the function runtime against the API server's own JWKS, which it reads as Knative's verifier does: with
 * the pod's ServiceAccount token (the `system:service-account-issuer-discovery` role every ServiceAccount holds) and
 * the cluster's CA. The API server here answers on 127.0.0.1, which the function learns as a pod does, from
 * KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT.
 */
const AUDIENCE = "serving.knative.dev/service/knclaw/agent-ops";
/** The issuer `real-apiserver.sh` starts the API server with (--service-account-issuer). */
const ISSUER = "https://kubernetes.default.svc.cluster.local";

let namespace: string;
let dir: string;
let served: Served | undefined;
const cluster = useTestCluster(async (c) => {
  namespace = freshName("oidc");
  await createNamespace(c, namespace);
  for (const name of ["broker", "function"]) {
    await c.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  }
});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "knclaw-sa-"));
});

afterEach(async () => {
  await served?.shutdown();
  served = undefined;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tokenFor(c: TestCluster, serviceAccount: string, audience?: string): Promise<string> {
  const answer = await c.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: audience === undefined ? [] : [audience], expirationSeconds: 3600 } },
  });
  return answer.status!.token!;
}

/** The function as its pod would run it: its own ServiceAccount token mounted, the API server's address in the env. */
async function serveFunction(c: TestCluster, podToken: string | undefined): Promise<string> {
  const server = new URL(c.kc.getCurrentCluster()!.server);
  const tokenFile = join(dir, `token-${Math.random().toString(36).slice(2)}`);
  if (podToken !== undefined) writeFileSync(tokenFile, podToken);
  const env: FunctionEnv = {
    KNCLAW_DELIVERY_AUDIENCE: AUDIENCE,
    KNCLAW_OIDC_ISSUER: ISSUER,
    KNCLAW_OIDC_JWKS_URL: `${server.origin}/openid/v1/jwks`,
    KNCLAW_OIDC_JWKS_TOKEN_FILE: tokenFile,
    KNCLAW_OIDC_JWKS_CA_FILE: c.kc.getCurrentCluster()!.caFile!,
    KUBERNETES_SERVICE_HOST: server.hostname,
    KUBERNETES_SERVICE_PORT: server.port,
  };
  const app = createFunctionApp({
    env,
    delivery: { decode: (request) => decodeRequest(request), handle: () => undefined },
  });
  served = await serve(app, { port: 0, host: "127.0.0.1" });
  return served.url;
}

function deliver(url: string, token: string): Promise<Response> {
  const encoded = encodeBinary(makeEvent(T.PING, { source: "/test", data: {} }));
  return fetch(`${url}/`, {
    method: "POST",
    headers: { ...encoded.headers, authorization: `Bearer ${token}` },
    body: encoded.body as Uint8Array<ArrayBuffer>,
  });
}

describe("tokens of a real Kubernetes API server", () => {
  it("accepts a ServiceAccount token for the function's audience and refuses one for another", async () => {
    const c = cluster();
    const url = await serveFunction(c, await tokenFor(c, "function"));
    const mine = await tokenFor(c, "broker", AUDIENCE);
    expect((await deliver(url, mine)).status).toBe(200);
    expect((await deliver(url, await tokenFor(c, "broker", "serving.knative.dev/service/knclaw/gateway"))).status).toBe(
      401,
    );
    // The API server's own audience is not the function's either.
    expect((await deliver(url, await tokenFor(c, "broker"))).status).toBe(401);
  });

  it("cannot read the API server's keys without the pod's token: 503, so the broker retries", async () => {
    const c = cluster();
    const url = await serveFunction(c, undefined);
    const response = await deliver(url, await tokenFor(c, "broker", AUDIENCE));
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
  });
});
