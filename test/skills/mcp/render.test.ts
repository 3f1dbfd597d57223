import { describe, expect, it } from "vitest";
import { ConfigError, validateConfigValue } from "../../../knative/config/index.ts";
import { render } from "../../../knative/render/index.ts";
import type { RenderedObject } from "../../../knative/render/types.ts";
import { validateObjects } from "../../../knative/validate/index.ts";
import { McpServerSettings } from "../../../skills/mcp/settings.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain JSON, checked field by field
type Result = any;
const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

function config(skills: Record<string, unknown>) {
  return validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "prod", namespace: "agents" },
    images: { default: `ghcr.io/knclaw/knclaw@${DIGEST}` },
    policies: { default: { tools: { allow: Object.keys(skills).map((skill) => `${skill}.*`) } } },
    skills,
    instances: { assistant: { model: "demo/echo", skills: Object.keys(skills) } },
  });
}

const named = (objects: RenderedObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name) as (RenderedObject & Result) | undefined;
const envOf = (service: Result): Array<{ name: string; value?: string; valueFrom?: Result }> =>
  service.spec.template.spec.containers[0].env;

describe("rendering MCP skills", () => {
  const objects = render(
    config({
      docs: {
        mcp: {
          transport: "http",
          url: "https://mcp.example.com:8443/mcp",
          headers: { "X-Api-Key": { secret: "docs-mcp", key: "api-key" } },
          bearer: { secret: "docs-mcp", key: "token" },
          allow: ["search"],
          tools: { search: { approval: true } },
        },
      },
      files: {
        mcp: {
          transport: "stdio",
          command: "mcp-server-filesystem",
          args: ["/data"],
          secretEnv: { FS_TOKEN: { secret: "files", key: "token" } },
          deny: ["move_file"],
        },
      },
    }),
  );

  it("validates (knclaw validate's checks) with no errors", () => {
    const problems = validateObjects(objects as never).filter((p: { severity: string }) => p.severity === "error");
    expect(problems).toEqual([]);
  });

  it("runs each server as skills/mcp under its own ServiceAccount, with no RBAC", () => {
    for (const name of ["skill-docs", "skill-files"]) {
      const service = named(objects, "Service", name)!;
      expect(service.metadata.annotations["knclaw.dev/entry"]).toBe("skills/mcp/app.ts");
      expect(service.spec.template.spec.serviceAccountName).toBe(name);
      expect(named(objects, "ServiceAccount", name)).toBeDefined();
    }
    expect(objects.filter((o) => o.kind === "Role" || o.kind === "RoleBinding" || o.kind === "ClusterRole")).toEqual(
      [],
    );
  });

  it("limits a remote server's egress to its host and port", () => {
    const policy = named(objects, "NetworkPolicy", "skill-docs-egress")!;
    expect(policy.metadata.annotations).toEqual({ "knclaw.dev/egress-hosts": "mcp.example.com" });
    const ports = policy.spec.egress.flatMap((rule: Result) => rule.ports ?? []).map((p: Result) => p.port);
    expect(ports).toContain(8443);
    expect(ports).not.toContain(443);
  });

  it("gives a stdio server no egress beyond DNS and the Knative data plane (to the memory service, for its call records)", () => {
    const policy = named(objects, "NetworkPolicy", "skill-files-egress")!;
    expect(policy.metadata.annotations?.["knclaw.dev/egress-hosts"]).toBeUndefined();
    const peers = JSON.stringify(policy.spec.egress);
    expect(peers).not.toContain("0.0.0.0/0");
    expect(policy.spec.egress).toHaveLength(2);
    expect(policy.spec.egress[1].to.map((peer: Result) => Object.keys(peer))).toEqual([
      ["namespaceSelector"],
      ["namespaceSelector"],
    ]);
  });

  it("passes settings without secret values, and each credential as a secretKeyRef", () => {
    const env = envOf(named(objects, "Service", "skill-docs"));
    const server = McpServerSettings.parse(JSON.parse(env.find((e) => e.name === "KNCLAW_MCP_SERVER")!.value!));
    expect(server).toMatchObject({ transport: "http", headers: ["X-Api-Key"], bearer: true, allow: ["search"] });
    expect(env.find((e) => e.name === "KNCLAW_MCP_HEADER_X_API_KEY")!.valueFrom).toEqual({
      secretKeyRef: { name: "docs-mcp", key: "api-key" },
    });
    expect(env.find((e) => e.name === "KNCLAW_MCP_BEARER")!.valueFrom).toEqual({
      secretKeyRef: { name: "docs-mcp", key: "token" },
    });
    const files = envOf(named(objects, "Service", "skill-files"));
    expect(JSON.parse(files.find((e) => e.name === "KNCLAW_MCP_SERVER")!.value!)).toMatchObject({
      passEnv: ["FS_TOKEN"],
    });
    expect(files.find((e) => e.name === "FS_TOKEN")!.valueFrom).toEqual({
      secretKeyRef: { name: "files", key: "token" },
    });
  });

  it("tells the agent where to read the servers' tools instead of a static catalog", () => {
    const env = envOf(named(objects, "Service", "agent-assistant"));
    expect(JSON.parse(env.find((e) => e.name === "KNCLAW_SKILL_ENDPOINTS")!.value!)).toEqual({
      docs: "http://skill-docs.agents.svc.cluster.local",
      files: "http://skill-files.agents.svc.cluster.local",
    });
    expect(env.find((e) => e.name === "KNCLAW_SKILL_CATALOG")).toBeUndefined();
  });

  it("refuses a server without its transport's endpoint, or a literal secret", () => {
    expect(() => config({ x: { mcp: { transport: "http" } } })).toThrow(ConfigError);
    expect(() => config({ x: { mcp: { transport: "stdio" } } })).toThrow(ConfigError);
    expect(() =>
      config({ x: { mcp: { transport: "http", url: "https://a.example.com/mcp", bearer: "sk-live" } } }),
    ).toThrow(ConfigError);
  });
});
