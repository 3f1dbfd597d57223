import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { BUILTIN_SKILL_NAMES, builtinSkill, builtinSkillDescriptor } from "../../knative/config/builtin-skills.ts";
import { ConfigError, listFunctions, validateConfigValue } from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";
import type { RenderedObject } from "../../knative/render/types.ts";
import { memoryScopeOfLabels } from "../../knative/secrets/memory-scope.ts";
import { validateObjects } from "../../knative/validate/index.ts";
import { manifest as httpManifest } from "../../skills/http/manifest.ts";
import { manifest as kubernetesManifest } from "../../skills/kubernetes/manifest.ts";
import { builtinSkillsDir, discoverSkills } from "../../skills/package/loader.ts";
import { parseManifest, skillDescriptor } from "../../skills/package/skill-package.ts";
import { SkillDescriptor } from "../../skills/runtime/descriptor.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain JSON, checked field by field
type Result = any;
const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

function config(overrides: { skills?: Record<string, unknown>; instances?: Record<string, unknown> } = {}) {
  return validateConfigValue({
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "prod", namespace: "agents" },
    images: { default: `ghcr.io/knclaw/knclaw@${DIGEST}` },
    policies: { default: { tools: { allow: ["kubernetes.*", "http.*", "memory.*"] } } },
    skills: overrides.skills ?? {
      kubernetes: {
        grants: {
          assistant: { namespaces: ["shop", "payments"] },
          ops: { namespaces: ["shop"], cluster: true },
          idle: { namespaces: ["shop"] },
        },
      },
      http: { egress: [{ host: "api.github.com" }, { host: "*.example.com", ports: [443, 8443] }] },
      memory: {},
    },
    instances: overrides.instances ?? {
      assistant: { model: "demo/echo", skills: ["kubernetes", "http", "memory"] },
      ops: { model: "demo/echo", skills: ["kubernetes"] },
      idle: { model: "demo/echo", skills: ["memory"] },
    },
  });
}

const of = (objects: RenderedObject[], kind: string) => objects.filter((o) => o.kind === kind);
const named = (objects: RenderedObject[], kind: string, name: string, namespace?: string) =>
  objects.find(
    (o) =>
      o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace),
  );

describe("rendering built-in skills", () => {
  const objects = render(config());

  it("gives each per-instance ServiceAccount exactly the manifest's rules, in exactly its granted namespaces", () => {
    const rules = parseManifest("kubernetes", kubernetesManifest).kubernetes!.rules;
    const roles = of(objects, "Role").filter((r) => r.metadata.name.includes("skill-kubernetes-"));
    const placement = roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort();
    expect(placement).toEqual([
      "agents/skill-kubernetes-impersonate",
      "payments/knclaw-agents-skill-kubernetes-assistant",
      "shop/knclaw-agents-skill-kubernetes-assistant",
      "shop/knclaw-agents-skill-kubernetes-ops",
    ]);
    for (const role of roles.filter((r) => r.metadata.name.startsWith("knclaw-agents-"))) {
      expect(role.rules).toEqual(rules);
      const binding = named(objects, "RoleBinding", role.metadata.name, role.metadata.namespace)!;
      expect(binding.roleRef).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: role.metadata.name,
      });
      const instance = role.metadata.name.replace("knclaw-agents-skill-kubernetes-", "");
      expect(binding.subjects).toEqual([
        { kind: "ServiceAccount", name: `skill-kubernetes-${instance}`, namespace: "agents" },
      ]);
    }
  });

  it("grants cluster rules through a ClusterRole only where the grant says cluster: true", () => {
    const clusterRules = parseManifest("kubernetes", kubernetesManifest).kubernetes!.clusterRules;
    expect(of(objects, "ClusterRole").map((r) => r.metadata.name)).toEqual(["knclaw-agents-skill-kubernetes-ops"]);
    const clusterRole = of(objects, "ClusterRole")[0]!;
    expect(clusterRole.rules).toEqual(clusterRules);
    expect(clusterRole.metadata.namespace).toBeUndefined();
    expect(of(objects, "ClusterRoleBinding")[0]).toMatchObject({
      roleRef: { kind: "ClusterRole", name: "knclaw-agents-skill-kubernetes-ops" },
      subjects: [{ kind: "ServiceAccount", name: "skill-kubernetes-ops", namespace: "agents" }],
    });
  });

  it("lets the skill's own identity do nothing but impersonate the per-instance ServiceAccounts", () => {
    const impersonate = named(objects, "Role", "skill-kubernetes-impersonate", "agents")!;
    expect(impersonate.rules).toEqual([
      {
        apiGroups: [""],
        resources: ["serviceaccounts"],
        verbs: ["impersonate"],
        resourceNames: ["skill-kubernetes-assistant", "skill-kubernetes-ops"],
      },
    ]);
    expect(named(objects, "RoleBinding", "skill-kubernetes-impersonate", "agents")!.subjects).toEqual([
      { kind: "ServiceAccount", name: "skill-kubernetes", namespace: "agents" },
    ]);
    const skillBindings = [...of(objects, "RoleBinding"), ...of(objects, "ClusterRoleBinding")].filter((b) =>
      (b.subjects as Array<{ name: string }>).some((s) => s.name === "skill-kubernetes"),
    );
    expect(skillBindings.map((b) => b.metadata.name)).toEqual(["skill-kubernetes-impersonate"]);
  });

  it("creates no identity for an instance that is granted but does not use the skill", () => {
    expect(named(objects, "ServiceAccount", "skill-kubernetes-idle")).toBeUndefined();
    expect(objects.some((o) => o.metadata.name.includes("kubernetes-idle"))).toBe(false);
    const perInstance = of(objects, "ServiceAccount").filter((sa) => sa.metadata.name.startsWith("skill-kubernetes-"));
    expect(perInstance.map((sa) => [sa.metadata.name, sa.automountServiceAccountToken])).toEqual([
      ["skill-kubernetes-assistant", false],
      ["skill-kubernetes-ops", false],
    ]);
  });

  it("renders no RBAC at all for skills whose manifest declares none", () => {
    const rbac = [...of(objects, "Role"), ...of(objects, "RoleBinding"), ...of(objects, "ClusterRole")];
    expect(rbac.some((o) => o.metadata.name.includes("skill-http") || o.metadata.name.includes("skill-memory"))).toBe(
      false,
    );
    expect(parseManifest("http", httpManifest).kubernetes).toBeUndefined();
  });

  it("mounts the API token only for the kubernetes skill, and lets only it reach the API server", () => {
    const functions = listFunctions(config());
    const skills = Object.fromEntries(functions.filter((f) => f.component === "skill").map((f) => [f.name, f]));
    expect(skills["skill-kubernetes"]).toMatchObject({ kubeApi: true });
    expect(skills["skill-http"]).toMatchObject({ kubeApi: false });
    expect(skills["skill-memory"]).toMatchObject({ kubeApi: false });
    const sa = (name: string) => named(objects, "ServiceAccount", name, "agents")!;
    expect(sa("skill-kubernetes").automountServiceAccountToken).toBe(true);
    expect(sa("skill-http").automountServiceAccountToken).toBe(false);
    expect(sa("skill-memory").automountServiceAccountToken).toBe(false);
  });

  it("denies egress by default and allows each skill only what its manifest and config declare", () => {
    const policy = (name: string) =>
      named(objects, "NetworkPolicy", `${name}-egress`, "agents")! as RenderedObject & { spec: Result };
    for (const name of ["skill-kubernetes", "skill-http", "skill-memory"]) {
      const spec = policy(name).spec;
      expect(spec.policyTypes).toEqual(["Egress"]);
      expect(spec.podSelector).toEqual({ matchLabels: { "serving.knative.dev/service": name } });
      // DNS first, always.
      expect(spec.egress[0].ports).toEqual([
        { port: 53, protocol: "UDP" },
        { port: 53, protocol: "TCP" },
      ]);
    }
    const kubePorts = policy("skill-kubernetes").spec.egress.flatMap((rule: Result) =>
      (rule.ports ?? []).map((p: Result) => p.port),
    );
    expect(kubePorts).toContain(6443);
    const http = policy("skill-http");
    expect(http.metadata.annotations).toEqual({ "knclaw.dev/egress-hosts": "*.example.com,api.github.com" });
    // After DNS: the Knative data plane (to the memory service, for its call records), then the declared hosts.
    expect(http.spec.egress[1].to.map((peer: Result) => Object.keys(peer))).toEqual([
      ["namespaceSelector"],
      ["namespaceSelector"],
    ]);
    const httpRules = http.spec.egress.slice(2);
    expect(
      httpRules.every((rule: Result) =>
        rule.to.every(
          (peer: Result) =>
            peer.ipBlock?.except?.includes("169.254.0.0/16") || peer.ipBlock?.except?.includes("fe80::/10"),
        ),
      ),
    ).toBe(true);
    const memory = policy("skill-memory").spec.egress;
    expect(memory).toHaveLength(2);
    expect(memory[1].to.map((peer: Result) => Object.keys(peer))).toEqual([
      ["namespaceSelector"],
      ["namespaceSelector"],
    ]);
  });

  it("gives the http skill its allow-list, with ports, through a reserved variable", () => {
    const ksvc = named(objects, "Service", "skill-http", "agents") as RenderedObject & { spec: Result };
    const env = ksvc.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
    expect(env.find((e) => e.name === "KNCLAW_ALLOWED_HOSTS")?.value).toBe(
      "*.example.com:443,*.example.com:8443,api.github.com:443",
    );
    const memory = named(objects, "Service", "skill-memory", "agents") as RenderedObject & { spec: Result };
    const memoryEnv = memory.spec.template.spec.containers[0].env as Array<{ name: string; valueFrom?: Result }>;
    expect(memoryEnv.find((e) => e.name === "KNCLAW_MEMORY_TOKEN")?.valueFrom).toBeDefined();
    expect(memoryEnv.some((e) => e.name === "KNCLAW_ALLOWED_HOSTS")).toBe(false);
  });

  it("validates against the Kubernetes schemas and the platform's own validator", () => {
    const models: Record<string, new (data: never) => { validate(): void }> = {
      ServiceAccount: ServiceAccount as never,
      Role: Role as never,
      RoleBinding: RoleBinding as never,
      ClusterRole: ClusterRole as never,
      ClusterRoleBinding: ClusterRoleBinding as never,
    };
    const skillObjects = objects.filter((o) => o.metadata.labels?.["knclaw.dev/component"] === "skill");
    expect(skillObjects.length).toBeGreaterThan(15);
    for (const object of skillObjects) {
      const Model = models[object.kind];
      if (!Model) continue;
      const { apiVersion: _a, kind: _k, ...rest } = object;
      expect(() => new Model(rest as never).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
    const problems = validateObjects(objects as never).filter((p: { severity: string }) => p.severity === "error");
    expect(problems).toEqual([]);
  });
});

describe("memory access for call records (least privilege)", () => {
  const objects = render(
    config({
      skills: {
        kubernetes: {},
        http: {},
        memory: {},
        time: {},
        // An MCP server's tools are discovered at run time and mutate unless annotated or configured read-only.
        writer: { mcp: { transport: "stdio", command: "mcp-writer" } },
        // Every tool it may offer is read-only: `find` by config, `drop` denied.
        reader: {
          mcp: {
            transport: "http",
            url: "https://mcp.example.com/mcp",
            allow: ["find", "drop"],
            deny: ["drop"],
            tools: { find: { mutates: false } },
          },
        },
      },
      instances: {
        assistant: { model: "demo/echo", skills: ["kubernetes", "http", "memory", "time", "writer", "reader"] },
      },
    }),
  );
  const service = (name: string) => named(objects, "Service", name, "agents") as RenderedObject & { spec: Result };
  const envNames = (name: string) =>
    (service(name).spec.template.spec.containers[0].env as Array<{ name: string }>).map((e) => e.name);
  const dataPlane = (name: string) =>
    (named(objects, "NetworkPolicy", `${name}-egress`, "agents") as RenderedObject & { spec: Result }).spec.egress.some(
      (rule: Result) => rule.to?.some((peer: Result) => Object.keys(peer).join() === "namespaceSelector"),
    );

  it("gives every skill with a mutating tool the memory service and a token for its own call records only", () => {
    const scopes: Record<string, string> = {
      "skill-kubernetes": "skill",
      "skill-http": "skill",
      "skill-writer": "skill",
      // The memory skill keeps notes: its notes token also opens its own call records.
      "skill-memory": "notes",
    };
    for (const [name, scope] of Object.entries(scopes)) {
      expect(envNames(name), name).toEqual(expect.arrayContaining(["KNCLAW_MEMORY_URL", "KNCLAW_MEMORY_TOKEN"]));
      const token = (
        service(name).spec.template.spec.containers[0].env as Array<{ name: string; valueFrom?: Result }>
      ).find((e) => e.name === "KNCLAW_MEMORY_TOKEN")!.valueFrom;
      expect(token).toEqual({ secretKeyRef: { name: "knclaw-memory-tokens", key: name } });
      expect(service(name).metadata.labels?.["knclaw.dev/memory-scope"], name).toBe(scope);
      expect(memoryScopeOfLabels(service(name).metadata.labels)).toEqual({
        kind: scope,
        name: name.slice("skill-".length),
      });
      expect(dataPlane(name), name).toBe(true);
    }
  });

  it("gives a read-only skill no memory access at all", () => {
    for (const name of ["skill-time", "skill-reader"]) {
      expect(envNames(name), name).not.toContain("KNCLAW_MEMORY_URL");
      expect(envNames(name), name).not.toContain("KNCLAW_MEMORY_TOKEN");
      expect(service(name).metadata.labels?.["knclaw.dev/memory-scope"]).toBeUndefined();
      expect(dataPlane(name), name).toBe(false);
    }
    const functions = Object.fromEntries(listFunctions(config()).map((f) => [f.name, f]));
    expect(functions["skill-http"]).toMatchObject({ memoryClient: true, skillMemoryScope: "skill" });
  });
});

describe("skill config checks", () => {
  it("accepts grants without config rbac for a skill whose manifest declares its RBAC", () => {
    expect(() => config()).not.toThrow();
  });

  it("refuses config rbac on a built-in that declares its own", () => {
    const attempt = () =>
      config({
        skills: {
          kubernetes: {
            rbac: { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] },
            grants: { assistant: { namespaces: ["shop"] } },
          },
        },
        instances: { assistant: { model: "demo/echo", skills: ["kubernetes"] } },
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/declares its RBAC in its manifest/);
  });

  it("renders no per-instance identity and no impersonation right when nothing is granted", () => {
    const objects = render(
      config({ skills: { kubernetes: {} }, instances: { assistant: { model: "demo/echo", skills: ["kubernetes"] } } }),
    );
    expect(of(objects, "Role").filter((r) => r.metadata.name.includes("kubernetes"))).toEqual([]);
    expect(of(objects, "ServiceAccount").map((sa) => sa.metadata.name)).not.toContain("skill-kubernetes-assistant");
  });
});

describe("the built-in table", () => {
  it("agrees with the skill folders on disk", async () => {
    const found = await discoverSkills([builtinSkillsDir()]);
    expect(found.failures).toEqual([]);
    expect(found.skills.map((s) => s.name).sort()).toEqual([...BUILTIN_SKILL_NAMES]);
    for (const skill of found.skills) {
      const table = builtinSkill(skill.name)!;
      expect(skill.manifest).toEqual(table.manifest);
      expect(skill.tools).toEqual(table.tools);
      expect(skill.description.length).toBeGreaterThan(20);
      expect(skill.instructions.length).toBeGreaterThan(200);
      const descriptor = builtinSkillDescriptor(skill.name)!;
      expect(descriptor).toEqual(skillDescriptor(skill));
      expect(SkillDescriptor.parse(descriptor)).toEqual(descriptor);
    }
    expect(builtinSkillDescriptor("nope")).toBeUndefined();
  });
});
