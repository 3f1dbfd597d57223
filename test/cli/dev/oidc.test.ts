import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, decodeJwt, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { afterAll, describe, expect, it, vi } from "vitest";
import { IdentityFiles } from "../../../cli/dev/identity-files.ts";
import { fileSecretStore } from "../../../cli/dev/secret-store.ts";
import type { DevRuntime } from "../../../cli/dev/start-dev.ts";
import { silentLog } from "../../../eventing/broker/log.ts";
import {
  brokerWithTrigger,
  eventId,
  postBinary,
  receivedAttributes,
  testResources,
} from "../../support/dev-platform.ts";

/**
 * `knclaw dev` with Knative's authentication-oidc emulated (cli/dev/oidc.ts), over real HTTP: its issuer read by jose
 * as any client would, tokens on deliveries (subscribers, dead-letter sinks, other brokers), the ingress enforcing
 * EventPolicies loaded with --manifests and the default authorization modes with Knative's status codes, replies and
 * PingSource ticks sent as their OIDC identities, and the functions it runs getting their audience and identity.
 */
const res = testResources();
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const BROKER_AUDIENCE = "eventing.knative.dev/broker/test/default";
const sa = (name: string, namespace = "test") => `system:serviceaccount:${namespace}:${name}`;
const TRIGGER_IDENTITY = sa("t1-oidc-eventing.knative.dev-trigger");

function manifestsDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "knclaw-oidc-manifests-"));
  dirs.push(dir);
  writeFileSync(join(dir, "platform.yaml"), yaml);
  return dir;
}

/** Start from --manifests, as `knclaw dev --no-config --manifests DIR` does, with OIDC on. */
function devWith(yaml: string, mode?: "allow-all" | "allow-same-namespace" | "deny-all"): Promise<DevRuntime> {
  return res.runtimeWith("", {
    manifestsDir: manifestsDir(yaml),
    oidc: mode === undefined ? {} : { defaultAuthorizationMode: mode },
  });
}

async function bearer(runtime: DevRuntime, subject: string, audience = BROKER_AUDIENCE): Promise<string> {
  return `Bearer ${(await runtime.oidc!.issuer.mint(subject, audience)).token}`;
}

function post(runtime: DevRuntime, id: string, authorization?: string, type = "dev.knclaw.allowed") {
  return postBinary(`${runtime.url}/test/default`, {
    id,
    type,
    ...(authorization === undefined ? {} : { headers: { authorization } }),
  });
}

describe("the dev issuer", () => {
  it("publishes discovery and public keys that jose, as an independent client, verifies its tokens with", async () => {
    const runtime = await devWith(brokerWithTrigger("http://127.0.0.1:9/unused"));
    const discovery = (await (await fetch(`${runtime.url}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(discovery.issuer).toBe(runtime.url);
    const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty("d");
    const { token } = await runtime.oidc!.issuer.mint(sa("anyone"), "some-audience");
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
      issuer: discovery.issuer,
      audience: "some-audience",
    });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.sub).toBe(sa("anyone"));
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("keeps its signing key in the state directory (0600), so a restart keeps trust", async () => {
    const state = mkdtempSync(join(tmpdir(), "knclaw-oidc-state-"));
    dirs.push(state);
    const kid = async () => {
      const runtime = await res.runtimeWith(brokerWithTrigger("http://127.0.0.1:9/unused"), {
        oidc: {},
        secretStore: fileSecretStore(state),
      });
      const jwks = (await (await fetch(`${runtime.url}/openid/v1/jwks`)).json()) as { keys: Array<{ kid: string }> };
      await runtime.shutdown();
      return jwks.keys[0]!.kid;
    };
    const first = await kid();
    expect(await kid()).toBe(first);
    expect(statSync(join(state, "secrets", "generated.json")).mode & 0o777).toBe(0o600);
  });
});

describe("deliveries carry tokens", () => {
  it("for the subscriber's audience, issued to the Trigger's identity; none for a target without an audience", async () => {
    const withAudience = await res.subscriberWith();
    const without = await res.subscriberWith();
    const runtime = await devWith(
      `${brokerWithTrigger(withAudience.url)}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: plain, namespace: test }
spec:
  broker: default
  subscriber: { uri: "${without.url}" }`.replace(
        `uri: "${withAudience.url}" }`,
        `uri: "${withAudience.url}", audience: my-service }`,
      ),
    );
    expect((await post(runtime, "e1", await bearer(runtime, sa("sender")))).status).toBe(202);
    const received = await withAudience.waitForEvent("e1");
    const token = String(received.headers.authorization).replace(/^Bearer /, "");
    const verified = await runtime.oidc!.issuer.verifier().verify(token, "my-service");
    expect(verified.subject).toBe(TRIGGER_IDENTITY);
    expect((await without.waitForEvent("e1")).headers.authorization).toBeUndefined();
  });

  it("to the dead-letter sink, for its audience", async () => {
    const failing = await res.subscriberWith(() => ({ status: 500 }));
    const sink = await res.subscriberWith();
    const runtime = await devWith(
      brokerWithTrigger(
        failing.url,
        `  delivery:
    retry: 0
    deadLetterSink: { uri: "${sink.url}", audience: dead-letters }`,
      ),
    );
    expect((await post(runtime, "e2", await bearer(runtime, sa("sender")))).status).toBe(202);
    const dead = await sink.waitForEvent("e2");
    expect(receivedAttributes(dead).knativeerrorcode).toBe("500");
    const claims = decodeJwt(String(dead.headers.authorization).replace(/^Bearer /, ""));
    expect(claims).toMatchObject({ aud: "dead-letters", sub: TRIGGER_IDENTITY, iss: runtime.url });
  });

  it("to another Broker, for its announced audience: its ingress authenticates the Trigger", async () => {
    const sub = await res.subscriberWith();
    const runtime = await devWith(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: second, namespace: test }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t1, namespace: test }
spec:
  broker: default
  subscriber: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: second } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: out, namespace: test }
spec:
  broker: second
  subscriber: { uri: "${sub.url}" }`);
    expect((await post(runtime, "e3", await bearer(runtime, sa("sender")))).status).toBe(202);
    await sub.waitForEvent("e3");
    await runtime.idle();
    expect(runtime.counters.rejected).toBe(0);
  });
});

/** A Broker (labelled `team: a`), a Trigger to `url`, and the policies (by manifests). */
function guarded(url: string, policies: string): string {
  return `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test, labels: { team: a } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t1, namespace: test }
spec:
  broker: default
  subscriber: { uri: "${url}" }
---
${policies}`;
}

const POLICIES = `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: allow-sender, namespace: test }
spec:
  to: [ { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } } ]
  from: [ { sub: "${sa("sender")}" } ]
  filters: [ { exact: { type: dev.knclaw.allowed } } ]
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: team, namespace: test }
spec:
  to: [ { selector: { apiVersion: eventing.knative.dev/v1, kind: Broker, matchLabels: { team: a } } } ]
  from: [ { sub: "${sa("team-")}*" } ]
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: elsewhere, namespace: test }
spec:
  to: [ { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: other } } ]
  from: [ { sub: "${sa("stranger")}" } ]`;

describe("the ingress enforces EventPolicies from --manifests, with Knative's status codes", () => {
  it("401 without a valid token for the Broker, 403 for a sender or an event no applying policy allows", async () => {
    const sub = await res.subscriberWith();
    const runtime = await devWith(guarded(sub.url, POLICIES));
    const stranger = await generateKeyPair("ES256");
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: (await runtime.oidc!.issuer.jwks()).keys[0]!.kid! })
      .setIssuer(runtime.url)
      .setSubject(sa("sender"))
      .setAudience(BROKER_AUDIENCE)
      .setExpirationTime("1h")
      .sign(stranger.privateKey);
    const expired = (await runtime.oidc!.issuer.mint(sa("sender"), BROKER_AUDIENCE, -120)).token;

    const noToken = await post(runtime, "no-token");
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get("www-authenticate")).toBe('Bearer realm="knative-eventing"');
    expect((await post(runtime, "basic", "Basic c2VuZGVyOnB3")).status).toBe(401);
    expect(
      (await post(runtime, "aud", await bearer(runtime, sa("sender"), "eventing.knative.dev/broker/test/other")))
        .status,
    ).toBe(401);
    expect((await post(runtime, "forged", `Bearer ${forged}`)).status).toBe(401);
    expect((await post(runtime, "expired", `Bearer ${expired}`)).status).toBe(401);
    // Listed only by a policy that applies to another Broker.
    expect((await post(runtime, "stranger", await bearer(runtime, sa("stranger")))).status).toBe(403);
    // The right sender, an event its policy's filters refuse.
    expect((await post(runtime, "filtered", await bearer(runtime, sa("sender")), "dev.knclaw.other")).status).toBe(403);
    // `*` matches any suffix, case-sensitively.
    expect((await post(runtime, "Team", await bearer(runtime, sa("Team-b")))).status).toBe(403);

    expect((await post(runtime, "allowed", await bearer(runtime, sa("sender")))).status).toBe(202);
    expect((await post(runtime, "team", await bearer(runtime, sa("team-b")), "dev.knclaw.any")).status).toBe(202);
    await runtime.idle();
    expect(sub.received.map(eventId)).toEqual(["allowed", "team"]);
    expect(runtime.counters.rejected).toBe(8);
  });

  it("decides by the first policy, by name, that lists the sender, as Knative's SubjectAndFiltersPass does", async () => {
    const sub = await res.subscriberWith();
    const runtime = await devWith(
      guarded(
        sub.url,
        `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: a-narrow, namespace: test }
spec:
  from: [ { sub: "${sa("sender")}" } ]
  filters: [ { exact: { type: dev.knclaw.allowed } } ]
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: b-wide, namespace: test }
spec:
  from: [ { sub: "${sa("sender")}" } ]`,
      ),
    );
    expect((await post(runtime, "narrow", await bearer(runtime, sa("sender")))).status).toBe(202);
    expect((await post(runtime, "wide", await bearer(runtime, sa("sender")), "dev.knclaw.other")).status).toBe(403);
  });
});

describe("without an applying EventPolicy, the default authorization mode decides", () => {
  it("allow-same-namespace (Knative's default): ServiceAccounts of the Broker's namespace only", async () => {
    const sub = await res.subscriberWith();
    const runtime = await devWith(brokerWithTrigger(sub.url));
    expect(runtime.oidc!.mode).toBe("allow-same-namespace");
    expect((await post(runtime, "same", await bearer(runtime, sa("anyone")))).status).toBe(202);
    expect((await post(runtime, "other", await bearer(runtime, sa("anyone", "elsewhere")))).status).toBe(403);
    expect((await post(runtime, "user", await bearer(runtime, "alice@example.com"))).status).toBe(403);
  });

  it("deny-all refuses every sender; allow-all takes any authenticated one", async () => {
    const sub = await res.subscriberWith();
    const denying = await devWith(brokerWithTrigger(sub.url), "deny-all");
    expect((await post(denying, "d", await bearer(denying, sa("anyone")))).status).toBe(403);
    const allowing = await devWith(brokerWithTrigger(sub.url), "allow-all");
    expect((await post(allowing, "a", await bearer(allowing, sa("anyone", "elsewhere")))).status).toBe(202);
    expect((await post(allowing, "n", undefined)).status).toBe(401);
  });

  it("a policy whose from.ref has no OIDC identity is not Ready and does not apply", async () => {
    const sub = await res.subscriberWith();
    const runtime = await devWith(
      guarded(
        sub.url,
        `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: by-service-account, namespace: test }
spec:
  from: [ { ref: { apiVersion: v1, kind: ServiceAccount, name: sender } } ]`,
      ),
    );
    expect(runtime.oidc!.policies[0]!.notReady).toContain("ServiceAccount test/sender");
    // allow-same-namespace decides, as it would on a cluster.
    expect((await post(runtime, "same", await bearer(runtime, sa("anyone")))).status).toBe(202);
  });
});

describe("replies and PingSource ticks are sent as their OIDC identities", () => {
  const replying = (url: string, policies: string) =>
    guarded(
      url,
      `${policies}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: replies, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: dev.knclaw.reply } }
  subscriber: { uri: "${url}/replies" }`,
    );
  const SENDER_POLICY = `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: sender, namespace: test }
spec:
  from: [ { sub: "${sa("sender")}" } ]
  filters: [ { exact: { type: dev.knclaw.allowed } } ]`;
  const reply = {
    status: 200,
    headers: { "ce-specversion": "1.0", "ce-id": "reply-1", "ce-source": "/subscriber", "ce-type": "dev.knclaw.reply" },
  };

  it("a reply the Trigger's identity may send goes in", async () => {
    const sub = await res.subscriberWith((request) => (request.path === "/replies" ? { status: 200 } : reply));
    const runtime = await devWith(
      replying(
        sub.url,
        `${SENDER_POLICY}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: t1-replies, namespace: test }
spec:
  from: [ { ref: { apiVersion: eventing.knative.dev/v1, kind: Trigger, name: t1 } } ]
  filters: [ { exact: { type: dev.knclaw.reply } } ]`,
      ),
    );
    expect((await post(runtime, "ask", await bearer(runtime, sa("sender")))).status).toBe(202);
    await sub.waitUntil((request) => request.path === "/replies" && eventId(request) === "reply-1");
  });

  it("a reply no policy allows fails its delivery (403, not retried): the dead-letter sink gets the event", async () => {
    const sub = await res.subscriberWith(() => reply);
    const sink = await res.subscriberWith();
    const runtime = await devWith(
      guarded(
        sub.url,
        SENDER_POLICY.concat(`
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t2, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: dev.knclaw.allowed } }
  subscriber: { uri: "${sub.url}" }
  delivery: { retry: 3, deadLetterSink: { uri: "${sink.url}" } }`),
      ),
    );
    expect((await post(runtime, "ask", await bearer(runtime, sa("sender")))).status).toBe(202);
    const dead = await sink.waitForEvent("ask");
    expect(receivedAttributes(dead).knativeerrorcode).toBe("403");
    await runtime.idle();
    expect(sub.received.filter((r) => eventId(r) === "ask")).toHaveLength(2);
  });

  it("a PingSource's ticks carry its identity's token, which a from.ref to it allows", async () => {
    const sub = await res.subscriberWith();
    const ping = `apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: { name: tick, namespace: test }
spec:
  schedule: "* * * * *"
  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } }`;
    const allowed = await devWith(
      guarded(
        sub.url,
        `${ping}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: ticks, namespace: test }
spec:
  from: [ { ref: { apiVersion: sources.knative.dev/v1, kind: PingSource, name: tick } } ]`,
      ),
    );
    expect((await allowed.pings.fire("test", "tick")).kind).toBe("delivered");
    await sub.waitFor(1);
    const refused = await devWith(guarded(sub.url, `${ping}\n---\n${SENDER_POLICY}`));
    const outcome = await refused.pings.fire("test", "tick");
    expect(outcome).toMatchObject({ kind: "dropped", status: 403 });
  });
});

describe("the functions dev runs", () => {
  const platform = (subscriber: string) => `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: probe-sa, namespace: test }
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: probe
  namespace: test
  annotations: { knclaw.dev/entry: test/cli/dev/fixtures/probe/app.ts }
spec:
  template:
    spec:
      serviceAccountName: probe-sa
      containers: [ { image: ghcr.io/knclaw/knclaw:test } ]
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: to-probe, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: probe.emit } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: probe } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: emitted, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: probe.emitted } }
  subscriber: { uri: "${subscriber}" }
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: probe-sends, namespace: test }
spec:
  from: [ { sub: "${sa("probe-sa")}" } ]
  filters: [ { exact: { type: probe.emitted } } ]
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: { name: tests-send, namespace: test }
spec:
  from: [ { sub: "${sa("sender")}" } ]`;

  it("take deliveries with their audience's token only, and send as their ServiceAccount with the token file dev keeps", async () => {
    const sub = await res.subscriberWith();
    const runtime = await res.runtimeWith(platform(sub.url), { oidc: {} });
    // Straight to the function's delivery route, as anyone on the dev port could: refused.
    const direct = await postBinary(`${runtime.url}/functions/probe/`, { id: "direct", type: "probe.emit" });
    expect(direct.status).toBe(401);
    // A valid token for the probe's audience, held by someone other than the Trigger that delivers to it.
    const intruder = await bearer(runtime, sa("intruder"), "serving.knative.dev/service/test/probe");
    const stolen = await postBinary(`${runtime.url}/functions/probe/`, {
      id: "intruder",
      type: "probe.emit",
      headers: { authorization: intruder },
    });
    expect(stolen.status).toBe(403);
    // Through the broker: the delivery carries the token for the probe's audience; the probe's own event goes back in
    // with its identity token, which the probe-sends policy allows.
    expect((await post(runtime, "via-broker", await bearer(runtime, sa("sender")), "probe.emit")).status).toBe(202);
    await sub.waitForEvent("via-broker-emitted");
    const events = (await (await runtime.fetch("http://probe.test.svc.cluster.local/events")).json()) as Array<{
      id: string;
    }>;
    expect(events.map((e) => e.id)).toEqual(["via-broker"]);
    await runtime.idle();
    expect(runtime.counters.rejected).toBe(0);
  });
});

describe("the functions dev runs as child processes (--processes)", () => {
  it("read the issuer's keys over HTTP from the dev port and send with their token file", async () => {
    const sub = await res.subscriberWith();
    const runtime = await res.runtimeWith(
      `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: test }
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: probe
  namespace: test
  annotations: { knclaw.dev/entry: test/cli/dev/fixtures/probe/app.ts }
spec:
  template:
    spec:
      containers: [ { image: ghcr.io/knclaw/knclaw:test } ]
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: to-probe, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: probe.emit } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: probe } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: emitted, namespace: test }
spec:
  broker: default
  filter: { attributes: { type: probe.emitted } }
  subscriber: { uri: "${sub.url}" }`,
      { oidc: {}, processes: true },
    );
    expect((await postBinary(`${runtime.url}/functions/probe/`, { id: "direct", type: "probe.emit" })).status).toBe(
      401,
    );
    expect((await post(runtime, "child", await bearer(runtime, sa("sender")), "probe.emit")).status).toBe(202);
    await sub.waitForEvent("child-emitted");
    await runtime.idle();
    expect(runtime.counters.rejected).toBe(0);
  });
});

describe("identity token files", () => {
  it("are rewritten at 80% of the token's lifetime, by a new file renamed over the old", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "Date"], now: Date.now() });
    try {
      let minted = 0;
      const files = new IdentityFiles(
        async (subject, audience) => {
          minted++;
          return { token: `${subject}|${audience}|${minted}`, expiresAt: Math.floor(Date.now() / 1000) + 100 };
        },
        silentLog,
        () => Date.now(),
      );
      const path = await files.add("test.probe", sa("probe-sa"), BROKER_AUDIENCE);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, "utf8")).toBe(`${sa("probe-sa")}|${BROKER_AUDIENCE}|1`);
      await vi.advanceTimersByTimeAsync(79_000);
      expect(minted).toBe(1);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(readFileSync(path, "utf8")).toBe(`${sa("probe-sa")}|${BROKER_AUDIENCE}|2`);
      files.close();
      expect(existsSync(path)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
