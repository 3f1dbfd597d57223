import { readFileSync } from "node:fs";
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { runDeploy } from "../../../cli/deploy/run.ts";
import { loadConfig } from "../../../knative/config/index.ts";
import type { ApplyObject } from "../../../knative/deploy/index.ts";
import { render } from "../../../knative/render/index.ts";
import { validateObjects } from "../../../knative/validate/index.ts";
import { createHttpFetch } from "../../../runtime/http/fetch.ts";
import { fullConfig } from "../fixtures.ts";
import { createNamespace, freshName, type TestCluster, useTestCluster } from "./support/cluster.ts";
import { configFile } from "./support/configs.ts";

/**
 * A platform rendered with `oidc.enabled` on a real kube-apiserver with the Knative CRDs: the EventPolicies, the
 * Trigger and dead-letter audiences and the ksvcs' projected token volumes are accepted and stored as rendered (a
 * field the CRD schema lacks would be pruned), and the API server issues exactly the tokens the rendered objects
 * count on.
 */
const testCluster = useTestCluster(async (cluster) => {
  // fullConfig grants the kube skill the namespaces web and api.
  for (const namespace of ["web", "api"]) {
    await createNamespace(cluster, namespace).catch((error: { code?: number }) => {
      if (error.code !== 409) throw error;
    });
  }
});
let cluster: TestCluster;
beforeEach(() => {
  cluster = testCluster();
});

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are plain JSON here.
type Json = any;

async function deployed(): Promise<{ namespace: string; objects: Json[] }> {
  const namespace = freshName("oidc");
  const path = configFile({ ...fullConfig(), oidc: { enabled: true } }, namespace);
  const report = await runDeploy({ config: path, cluster, wait: false, out: () => {}, progress: () => {} });
  const objects = render(loadConfig(path)) as ApplyObject[];
  expect(report.applied).toHaveLength(objects.length);
  return { namespace, objects };
}

const live = (object: Json): Promise<Json> =>
  cluster.api.read({
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
  });

async function tokenFor(namespace: string, serviceAccount: string, audience?: string): Promise<string> {
  const answer = await cluster.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: audience === undefined ? [] : [audience], expirationSeconds: 3600 } },
  });
  return answer.status!.token!;
}

describe("delivery authentication on a real API server", () => {
  it("stores every EventPolicy, audience and token volume as rendered, and a second deploy changes nothing", async () => {
    const { namespace, objects } = await deployed();
    const checked = objects.filter(
      (o) =>
        o.kind === "EventPolicy" ||
        o.kind === "Trigger" ||
        o.kind === "Broker" ||
        o.kind === "NetworkPolicy" ||
        (o.kind === "Service" && o.apiVersion === "serving.knative.dev/v1"),
    );
    expect(checked.filter((o) => o.kind === "EventPolicy").length).toBeGreaterThan(5);
    for (const object of checked) expect((await live(object)).spec, object.metadata.name).toMatchObject(object.spec);
    const path = configFile({ ...fullConfig(), oidc: { enabled: true } }, namespace);
    const again = await runDeploy({ config: path, cluster, wait: false, out: () => {}, progress: () => {} });
    expect(again.applied.filter((r) => r.action !== "unchanged")).toEqual([]);
  });

  it("issues the tokens the objects count on: a function's projected token names its EventPolicy's subject, for the Broker, from the issuer the functions check", async () => {
    const { namespace, objects } = await deployed();
    const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
    const ksvc = find("Service", "agent-ops");
    const pod = ksvc.spec.template.spec;
    const env = Object.fromEntries(pod.containers[0].env.map((e: Json) => [e.name, e.value]));
    const [brokerToken, apiToken] = pod.volumes[0].projected.sources.map((s: Json) => s.serviceAccountToken);
    expect(brokerToken.path).toBe("broker-token");
    expect(apiToken.path).toBe("api-token");

    // What the kubelet would project into agent-ops' pod: a token of its own ServiceAccount for the Broker.
    const token = await tokenFor(namespace, pod.serviceAccountName, brokerToken.audience);
    const claims = decodeJwt(token);
    expect(claims.sub).toBe(find("EventPolicy", "agent-ops-sends").spec.from[0].sub);
    expect(claims.aud).toEqual([`eventing.knative.dev/broker/${namespace}/main`]);
    expect(claims.iss).toBe(env.KNCLAW_OIDC_ISSUER);

    // Its API token reads the issuer's keys (RBAC's default issuer-discovery binding), and they verify the token.
    const server = cluster.kc.getCurrentCluster()!;
    const client = createHttpFetch({ ca: readFileSync(server.caFile!, "utf8") });
    const response = await client(`${server.server}/openid/v1/jwks`, {
      headers: { authorization: `Bearer ${await tokenFor(namespace, pod.serviceAccountName)}` },
    });
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as JSONWebKeySet;
    await client.close();
    const verified = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: env.KNCLAW_OIDC_ISSUER,
      audience: brokerToken.audience,
    });
    expect(verified.payload.sub).toBe(`system:serviceaccount:${namespace}:agent-ops`);
  });

  it("drops an EventPolicy field its CRD lacks without a word, which knclaw validate refuses first", async () => {
    const namespace = freshName("prune");
    await createNamespace(cluster, namespace);
    const policy = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventPolicy",
      metadata: { name: "typo", namespace },
      spec: {
        to: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "main" } }],
        from: [{ sub: `system:serviceaccount:${namespace}:gateway` }],
        filter: [{ exact: { type: "dev.knclaw.run.requested" } }],
      },
    };
    await cluster.api.create(policy);
    // Stored without its (misspelled) filters, it would admit every event of the gateway.
    expect((await live(policy)).spec).toEqual({ to: policy.spec.to, from: policy.spec.from });
    expect(validateObjects([policy], { authenticationOidc: true }).map((p) => `${p.path} ${p.rule}`)).toEqual([
      "spec.filter unknown-field",
    ]);
  });
});
