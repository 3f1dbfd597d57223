/**
 * Section `skills`: tools agents may call (ARCHITECTURE.md, "Skills"). A built-in skill renders a ksvc `skill-<name>`
 * running skills/<name>/app.ts under its own ServiceAccount, Role/RoleBinding (when it has RBAC rules) and
 * NetworkPolicy. An external skill is a URL: no ksvc, its Trigger delivers tool.requested straight to it. The skills
 * engineer extends this file.
 */
import { isIP } from "node:net";
import { z } from "zod";
import type { SkillManifest } from "../../../skills/package/manifest.ts";
import { builtinSkill } from "../builtin-skills.ts";
import {
  ComponentName,
  Delivery,
  EgressRule,
  KsvcKnobs,
  KubernetesName,
  ruleParams,
  SecretRef,
} from "../primitives.ts";

const ToolName = z.string().refine((v) => /^[a-zA-Z0-9_-]{1,64}$/.test(v), {
  message: "1-64 of a-z, A-Z, 0-9, _ and -",
  ...ruleParams("tool-name"),
});

const ExternalTool = z.strictObject({
  name: ToolName.describe("The tool's name as the model sees it."),
  description: z.string().min(1).max(4096).describe("What the tool does, for the model."),
  parameters: z
    .record(z.string(), z.unknown())
    .refine((schema) => schema.type === "object", {
      message: 'a JSON Schema with type: "object"',
      ...ruleParams("json-schema"),
    })
    .describe("JSON Schema of the arguments (an object schema)."),
  mutates: z.boolean().default(false).describe("The tool changes something; the policy gate may require approval."),
});

const McpToolOverride = z.strictObject({
  mutates: z.boolean().optional().describe("Whether the tool changes something (default: not `readOnlyHint`)."),
  approval: z.boolean().optional().describe("Whether a call waits for a human (default: when it mutates)."),
});

const EnvVarName = z.string().refine((v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), {
  message: "an environment variable name",
  ...ruleParams("env-name"),
});

const McpServer = z
  .strictObject({
    transport: z
      .enum(["stdio", "http"])
      .describe("`stdio`: a command run inside the skill's pod; `http`: a remote server over Streamable HTTP."),
    command: z
      .string()
      .min(1)
      .optional()
      .describe("stdio: the server's command, packaged into the skill's image (e.g. an npm-published server's bin)."),
    args: z.array(z.string()).default([]).describe("stdio: the command's arguments."),
    env: z.record(EnvVarName, z.string()).default({}).describe("stdio: plain variables for the server process."),
    secretEnv: z
      .record(EnvVarName, SecretRef)
      .default({})
      .describe("stdio: variables for the server process from Secrets."),
    url: z
      .url({ protocol: /^https?$/, message: "an http(s) URL" })
      .optional()
      .describe("http: the server's Streamable HTTP endpoint; egress is limited to its host and port."),
    headers: z
      .record(
        z
          .string()
          .refine((v) => /^[A-Za-z0-9-]{1,128}$/.test(v), { message: "a header name", ...ruleParams("header") }),
        SecretRef,
      )
      .default({})
      .describe("http: headers sent with every request, each value from a Secret."),
    bearer: SecretRef.optional().describe("http: a bearer token sent as `Authorization: Bearer`."),
    oauth: z
      .strictObject({
        issuer: z
          .url({ protocol: /^https?$/, message: "an http(s) URL" })
          .describe("The authorization server's issuer URL: the credentials are sent only there."),
        clientId: z.string().min(1).describe("The OAuth client id."),
        clientSecret: SecretRef.describe("The OAuth client secret."),
        scope: z.string().optional().describe("Scopes to ask for."),
      })
      .optional()
      .describe("http: OAuth 2.0 client credentials (the token is fetched and refreshed by the MCP SDK)."),
    allow: z.array(ToolName).optional().describe("Offer only these tools (all when unset)."),
    deny: z.array(ToolName).default([]).describe("Never offer these tools (wins over allow)."),
    tools: z
      .record(ToolName, McpToolOverride)
      .default({})
      .describe("Per tool: override what its annotations imply (mutates, approval)."),
    timeoutSeconds: z.number().int().min(1).max(600).default(30).describe("Longest one call may take."),
  })
  .superRefine((server, ctx) => {
    const stdioOnly = ["command"] as const;
    const httpOnly = ["url"] as const;
    const required = server.transport === "stdio" ? stdioOnly : httpOnly;
    for (const key of required) {
      if (server[key] === undefined) {
        ctx.addIssue({
          code: "custom",
          input: server,
          path: [key],
          message: `required for transport ${server.transport}`,
          params: { rule: "mcp" },
        });
      }
    }
    const foreign =
      server.transport === "stdio"
        ? (["url", "bearer", "oauth"] as const).filter((key) => server[key] !== undefined)
        : (["command"] as const).filter((key) => server[key] !== undefined);
    if (
      server.transport === "http" &&
      (server.args.length > 0 || Object.keys(server.env).length > 0 || Object.keys(server.secretEnv).length > 0)
    ) {
      ctx.addIssue({
        code: "custom",
        input: server,
        message: "args, env and secretEnv are for transport stdio",
        params: { rule: "mcp" },
      });
    }
    if (server.transport === "stdio" && Object.keys(server.headers).length > 0) {
      ctx.addIssue({
        code: "custom",
        input: server,
        path: ["headers"],
        message: "headers are for transport http",
        params: { rule: "mcp" },
      });
    }
    for (const key of foreign) {
      ctx.addIssue({
        code: "custom",
        input: server,
        path: [key],
        message: `not used by transport ${server.transport}`,
        params: { rule: "mcp" },
      });
    }
  });
export type McpServerConfig = z.infer<typeof McpServer>;

const PolicyRule = z.strictObject({
  apiGroups: z.array(z.string()).min(1),
  resources: z.array(z.string().min(1)).min(1),
  verbs: z
    .array(z.enum(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"]))
    .min(1),
  resourceNames: z.array(z.string().min(1)).optional(),
});

const Skill = KsvcKnobs.extend({
  enabled: z.boolean().default(true).describe("Render the skill and its Trigger."),
  description: z.string().max(1024).optional().describe("What the skill is for (shown in listings)."),
  external: z
    .strictObject({
      url: z
        .url({ protocol: /^https?$/, message: "an http(s) URL" })
        .describe("Where the skill's Trigger delivers tool.requested."),
      tools: z.array(ExternalTool).min(1).describe("The tools it offers."),
      audience: z
        .string()
        .min(1)
        .max(253)
        .optional()
        .describe(
          "With `oidc.enabled`: the audience of the token the broker presents with each delivery (its Trigger's `subscriber.audience`), for the skill to check. Unset, deliveries carry no token and `knclaw validate` warns.",
        ),
    })
    .optional()
    .describe("A skill that runs elsewhere: no ksvc is rendered, its Trigger delivers tool.requested to `url`."),
  mcp: McpServer.optional().describe(
    "An MCP server as this skill: one skill function (skills/mcp) under its own ServiceAccount, no RBAC, egress only to the server's host (http) or none (stdio); its tools are discovered and named `<skill>__<tool>`.",
  ),
  rbac: z
    .strictObject({ rules: z.array(PolicyRule).min(1) })
    .optional()
    .describe("Kubernetes RBAC the skill's ServiceAccount gets, in each namespace it is granted."),
  grants: z
    .record(
      ComponentName,
      z.strictObject({ namespaces: z.array(KubernetesName).min(1), cluster: z.boolean().default(false) }),
    )
    .default({})
    .describe(
      "Per instance: which Kubernetes namespaces this skill may act in for that instance, and whether it may use the cluster-scoped rules its manifest asks for (nodes, ...), which only a ClusterRole can grant.",
    ),
  egress: z.array(EgressRule).default([]).describe("Hosts and addresses the skill calls."),
  memory: z.boolean().default(false).describe("The skill keeps notes through the memory service."),
  delivery: Delivery.optional().describe("Delivery for this skill's Trigger (replaces the broker's wholesale)."),
}).superRefine((skill, ctx) => {
  if (skill.mcp !== undefined) {
    for (const key of ["external", "rbac"] as const) {
      if (skill[key] !== undefined) {
        ctx.addIssue({
          code: "custom",
          input: skill[key],
          path: [key],
          message: "an MCP skill is its server: no external URL, no RBAC",
          params: { rule: "mcp" },
        });
      }
    }
  }
  if (skill.external === undefined) return;
  const local = [
    "image",
    "rbac",
    "minScale",
    "maxScale",
    "resources",
    "env",
    "secretEnv",
    "containerConcurrency",
    "timeoutSeconds",
  ] as const;
  for (const key of local) {
    if (skill[key] !== undefined) {
      ctx.addIssue({
        code: "custom",
        input: skill[key],
        path: [key],
        message: "an external skill runs elsewhere: ksvc and RBAC settings do not apply",
        params: { rule: "external-skill" },
      });
    }
  }
  if (skill.memory) {
    ctx.addIssue({
      code: "custom",
      input: skill.memory,
      path: ["memory"],
      message: "an external skill gets no memory token",
      params: { rule: "external-skill" },
    });
  }
});

export const skillsSection = {
  skills: z.record(ComponentName, Skill).default({}),
  skillFolders: z
    .array(z.string().min(1))
    .max(32)
    .default([])
    .describe(
      "Folders of SKILL.md skill folders (OpenClaw's `skills.load.extraDirs`; `<slug>/SKILL.md` or ClawHub's `<owner>/<slug>/SKILL.md`), in rising precedence after the built-in skills: a later folder's skill replaces an earlier one of the same name. Relative paths are relative to the folder of knclaw.yaml. An instance names their skills in its `skills` list; its agent reads them at start. For a cluster each folder skill an instance names is rendered as a ConfigMap `skill-folder-<skill>` (its SKILL.md and the other UTF-8 text files of its folder, at most 1 MiB; hidden files, symbolic links and binary files are left out and `knclaw validate` lists them) and mounted read-only into the agent at `/var/run/knclaw/skill-folders`; `knclaw dev` reads the folders in place.",
    ),
};

/**
 * What a built-in skill's manifest (skills/<name>/manifest.ts) means for its function: the manifest, not the config,
 * says whether it calls the Kubernetes API or the memory service and which hosts it reaches. listFunctions folds
 * these into the skill's FunctionSpec; knative/render/skills.ts renders the manifest's RBAC.
 */
export interface SkillNeeds {
  /** Kubernetes rules or API egress: mount the ServiceAccount token, allow the API server. */
  kubeApi: boolean;
  /** Keeps notes in the memory service: KNCLAW_MEMORY_URL, a notes-scoped token, Knative data-plane egress. */
  memoryClient: boolean;
  /** Has a mutating tool: records its calls in the memory service (a skill-scoped token unless it keeps notes). */
  mutates: boolean;
  /** Declared hosts and CIDRs, as config egress rules. */
  egress: z.infer<typeof EgressRule>[];
}

/** The needs of a built-in skill, or undefined for a skill knclaw does not ship (its config alone describes it). */
export function builtinSkillNeeds(name: string): SkillNeeds | undefined {
  const skill = builtinSkill(name);
  return skill ? { ...manifestNeeds(skill.manifest), mutates: skill.tools.some((tool) => tool.mutates) } : undefined;
}

function manifestNeeds(manifest: SkillManifest): Omit<SkillNeeds, "mutates"> {
  const kubernetes = manifest.kubernetes;
  const needs: Omit<SkillNeeds, "mutates"> = {
    kubeApi:
      manifest.egress.some((need) => need.kind === "kubernetes-api") ||
      (kubernetes !== undefined && (kubernetes.rules.length > 0 || kubernetes.clusterRules.length > 0)),
    memoryClient: manifest.egress.some((need) => need.kind === "service" && need.service === "memory"),
    egress: [],
  };
  for (const need of manifest.egress) {
    if (need.kind === "host") needs.egress.push({ host: need.host, ports: [...need.ports], protocol: "TCP" });
    if (need.kind === "cidr") needs.egress.push({ cidr: need.cidr, ports: [...need.ports], protocol: "TCP" });
  }
  return needs;
}

/** Whether the skill's RBAC comes from its manifest (so config `rbac` must not be given, and grants need none). */
export function manifestDeclaresRbac(name: string): boolean {
  const kubernetes = builtinSkill(name)?.manifest.kubernetes;
  return kubernetes !== undefined && (kubernetes.rules.length > 0 || kubernetes.clusterRules.length > 0);
}

/**
 * Whether an MCP skill may offer a mutating tool. Its tools are discovered at run time and mutate unless annotated
 * read-only, so only a config that lists the tools it offers (`allow`) and marks each one `mutates: false` proves none
 * does.
 */
export function mcpSkillMayMutate(server: McpServerConfig): boolean {
  if (server.allow === undefined) return true;
  return server.allow.some((tool) => !server.deny.includes(tool) && server.tools[tool]?.mutates !== false);
}

/** Where an MCP skill connects: the server's host and port for `http` (and the OAuth issuer's), nothing for `stdio`. */
export function mcpSkillEgress(server: McpServerConfig): z.infer<typeof EgressRule>[] {
  if (server.transport !== "http" || server.url === undefined) return [];
  const urls = [server.url, ...(server.oauth === undefined ? [] : [server.oauth.issuer])];
  const rules: z.infer<typeof EgressRule>[] = [];
  for (const text of urls) {
    const url = new URL(text);
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const rule: z.infer<typeof EgressRule> = isIP(host)
      ? { cidr: `${host}/${isIP(host) === 4 ? 32 : 128}`, ports: [port], protocol: "TCP" }
      : { host, ports: [port], protocol: "TCP" };
    if (!rules.some((known) => JSON.stringify(known) === JSON.stringify(rule))) rules.push(rule);
  }
  return rules;
}
