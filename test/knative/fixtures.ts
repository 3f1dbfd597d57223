/** Configs the knative tests share: a minimal valid one to mutate, and a full one touching every section. */

const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

export function minimalConfig(): Record<string, unknown> {
  return {
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    images: { default: `ghcr.io/knclaw/knclaw@${DIGEST}` },
    policies: { default: { tools: { allow: ["time.*"] } } },
    skills: { time: {} },
    instances: {
      ops: {
        model: "demo/echo",
        skills: ["time"],
        schedules: [{ name: "heartbeat", schedule: "*/5 * * * *", task: "check in" }],
      },
    },
  };
}

export function fullConfig(): Record<string, unknown> {
  return {
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "prod", namespace: "agents" },
    images: {
      registry: "registry.example.com/knclaw",
      default: `knclaw@${DIGEST}`,
      functions: { "skill-kube": `registry.example.com/skills/kube@${DIGEST}` },
    },
    defaults: { resources: { requests: { cpu: "100m" } } },
    network: { apiServer: { cidr: "10.96.0.1/32" } },
    broker: {
      name: "main",
      delivery: { retry: 3, backoffPolicy: "linear", backoffDelay: "PT1S", timeout: "PT30S" },
    },
    memory: { redis: { url: { secret: "redis", key: "url" } }, maxScale: 3 },
    gateway: { tokens: { admin: { secret: "gateway", key: "admin" } } },
    channels: {
      slack: {
        secrets: { signingSecret: { secret: "slack", key: "signing" }, botToken: { secret: "slack", key: "bot" } },
        routes: [{ workspace: "T123", instance: "ops" }],
        defaultInstance: "helper",
        deny: ["U999"],
      },
      telegram: {
        secrets: { botToken: { secret: "telegram", key: "bot" }, webhookSecret: { secret: "telegram", key: "hook" } },
        defaultInstance: "helper",
      },
    },
    policies: {
      default: { tools: { allow: ["time.*"] } },
      admin: {
        tools: { allow: ["kube.*", "search.*"], deny: ["kube.delete"] },
        approvals: { tools: ["kube.scale"], approvers: ["U1"] },
      },
    },
    skills: {
      time: {},
      kube: {
        rbac: { rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "patch"] }] },
        grants: { ops: { namespaces: ["web", "api"] } },
        egress: [{ cidr: "10.0.5.0/24", ports: [8443] }],
      },
      search: {
        external: {
          url: "https://search.example.com/knclaw",
          tools: [
            {
              name: "query",
              description: "Search the web",
              parameters: { type: "object", properties: { q: { type: "string" } } },
            },
          ],
        },
      },
    },
    instances: {
      ops: {
        model: "anthropic/claude-sonnet-4-5",
        provider: { apiKey: { secret: "anthropic", key: "api-key" } },
        policy: "admin",
        skills: ["kube", "search", "time"],
        channels: ["slack"],
        publicKey: "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=",
        schedules: [
          {
            name: "morning",
            schedule: "0 9 * * mon-fri",
            timezone: "Europe/Paris",
            task: "Summarize overnight alerts",
            concurrencyPolicy: "Replace",
          },
        ],
        delivery: { retry: 2, backoffPolicy: "exponential", backoffDelay: "PT2S" },
        minScale: 1,
        timeoutSeconds: 600,
      },
      helper: {
        model: "openai-compatible/llama3",
        provider: { baseUrl: "http://10.0.9.9:11434/v1" },
        skills: ["time"],
        channels: ["slack", "telegram"],
      },
    },
  };
}
