import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  applyOrder,
  formatTable,
  planPrune,
  platformId,
  publicUrls,
  readiness,
  readSecretManifests,
} from "../../../knative/deploy/index.ts";

/** The parts of deploy that need no cluster: order, ownership, prune planning, readiness, URLs, Secret files. */
const meta = (name: string, namespace?: string) => ({ name, ...(namespace ? { namespace } : {}) });

describe("deploy without a cluster", () => {
  it("orders objects for apply, telling Knative's Service from the core one", () => {
    const objects = [
      { apiVersion: "eventing.knative.dev/v1", kind: "Trigger", metadata: meta("t", "ns") },
      { apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: meta("ksvc", "ns") },
      { apiVersion: "apps/v1", kind: "StatefulSet", metadata: meta("redis", "ns") },
      { apiVersion: "v1", kind: "Service", metadata: meta("redis", "ns") },
      { apiVersion: "eventing.knative.dev/v1", kind: "Broker", metadata: meta("default", "ns") },
      { apiVersion: "v1", kind: "Secret", metadata: meta("s", "ns") },
      { apiVersion: "v1", kind: "Namespace", metadata: meta("ns") },
    ];
    expect(applyOrder(objects).map((o) => `${o.apiVersion}/${o.kind}`)).toEqual([
      "v1/Namespace",
      "v1/Secret",
      "v1/Service",
      "apps/v1/StatefulSet",
      "eventing.knative.dev/v1/Broker",
      "serving.knative.dev/v1/Service",
      "eventing.knative.dev/v1/Trigger",
    ]);
  });

  it("names a platform by namespace and name, within a label's 63 characters", () => {
    expect(platformId({ metadata: { name: "knclaw", namespace: "agents" } })).toBe("agents.knclaw");
    const long = platformId({ metadata: { name: "n".repeat(40), namespace: "s".repeat(40) } });
    expect(long).toMatch(/^p-[0-9a-f]{40}$/);
  });

  it("prunes owned objects the render dropped, never a Namespace, Secrets only when given the full set", () => {
    const owned = [
      { apiVersion: "v1", kind: "Namespace", metadata: meta("old-ns") },
      { apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: meta("agent-a", "ns") },
      { apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: meta("agent-b", "ns") },
      { apiVersion: "v1", kind: "Secret", metadata: meta("old-secret", "ns") },
    ];
    const desired = [{ apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: meta("agent-a", "ns") }];
    const without = planPrune(owned, desired, { secretsGiven: false });
    expect(without.stale.map((o) => o.metadata?.name)).toEqual(["agent-b"]);
    expect(without.keptNamespaces).toEqual(["old-ns"]);
    const withSecrets = planPrune(owned, desired, { secretsGiven: true });
    expect(withSecrets.stale.map((o) => o.metadata?.name)).toEqual(["agent-b", "old-secret"]);
    // A core Service of the same name is a different object from the ksvc.
    const core = planPrune([{ apiVersion: "v1", kind: "Service", metadata: meta("agent-a", "ns") }], desired, {
      secretsGiven: false,
    });
    expect(core.stale).toHaveLength(1);
  });

  it("reads Ready only for the generation the controller has seen", () => {
    const object = (observedGeneration: number, status: string) => ({
      metadata: { generation: 2 },
      status: { observedGeneration, conditions: [{ type: "Ready", status, reason: "R", message: "M" }] },
    });
    expect(readiness(object(2, "True"))).toEqual({ state: "True", reason: "R", message: "M" });
    expect(readiness(object(2, "False")).state).toBe("False");
    expect(readiness(object(1, "True"))).toMatchObject({ state: "Unknown", reason: "NotObserved" });
    expect(readiness({ metadata: {}, status: {} })).toMatchObject({ state: "Unknown", reason: "NoCondition" });
  });

  it("lists public ksvcs' URLs with the paths they serve, not cluster-local ones", () => {
    const ksvc = (name: string, labels: Record<string, string>, prefix?: string) => ({
      apiVersion: "serving.knative.dev/v1",
      kind: "Service",
      metadata: {
        name,
        namespace: "ns",
        labels,
        ...(prefix ? { annotations: { "knclaw.dev/dev-path-prefix": prefix } } : {}),
      },
      status: { url: `https://${name}.ns.example.com` },
    });
    expect(
      publicUrls([
        ksvc("gateway", {}, "/api/v1,/v1"),
        ksvc("channel-slack", {}, "/channels/slack"),
        ksvc("memory", { "networking.knative.dev/visibility": "cluster-local" }),
      ]),
    ).toEqual([
      { service: "Service.serving/ns/gateway", url: "https://gateway.ns.example.com/api/v1" },
      { service: "Service.serving/ns/gateway", url: "https://gateway.ns.example.com/v1" },
      { service: "Service.serving/ns/channel-slack", url: "https://channel-slack.ns.example.com/channels/slack" },
    ]);
  });

  it("reads generated Secret files, stringData turned into data", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-secrets-"));
    writeFileSync(
      join(dir, "knclaw-gateway.yaml"),
      "apiVersion: v1\nkind: Secret\nmetadata: {name: knclaw-gateway, namespace: ns}\ntype: Opaque\nstringData: {cli-token: abc}\n",
    );
    writeFileSync(join(dir, "notes.txt"), "not yaml: [");
    expect(readSecretManifests(dir)).toEqual([
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "knclaw-gateway", namespace: "ns" },
        type: "Opaque",
        data: { "cli-token": Buffer.from("abc").toString("base64") },
      },
    ]);
    writeFileSync(join(dir, "broken.yaml"), "stringData: {a: [\n");
    expect(() => readSecretManifests(dir)).toThrow(`${join(dir, "broken.yaml")} is not valid YAML`);
  });

  it("aligns table columns", () => {
    expect(formatTable(["A", "BB"], [["long value", "x"]])).toBe("A           BB\nlong value  x");
  });
});
