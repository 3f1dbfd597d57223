import type { TaskContract } from "../../../eventing/catalog/index.ts";
import { type ContractLayer, EffectiveContract } from "../../../functions/agent/policy/contract.ts";
import type { MachineEnv } from "../../../functions/agent/run/machine.ts";
import { type SkillInfo, ToolCatalog } from "../../../functions/agent/tools/catalog.ts";
import { generateSigningKey, parsePrivateKey, parsePublicKey } from "../../../runtime/keys.ts";
import { signCapability } from "../../../skills/runtime/capability.ts";

/** Skills and keys the agent tests share. */
const keys = generateSigningKey();
const signingKey = parsePrivateKey(keys.privateKeyPem);
export const publicKey = parsePublicKey(keys.publicKeyPem);

const SKILLS: SkillInfo[] = [
  {
    name: "kubernetes",
    instructions: "Inspect the cluster with the kubernetes tools.",
    tools: [
      {
        name: "get_pods",
        description: "List pods in a namespace",
        inputSchema: {
          type: "object",
          properties: { namespace: { type: "string", minLength: 1 } },
          required: ["namespace"],
        },
        mutates: false,
        approval: false,
        groups: ["k8s:read"],
      },
      {
        name: "delete_pod",
        description: "Delete a pod",
        inputSchema: {
          type: "object",
          properties: { namespace: { type: "string" }, name: { type: "string" } },
          required: ["namespace", "name"],
        },
        mutates: true,
        approval: true,
        groups: ["k8s:write"],
      },
    ],
  },
  {
    name: "http",
    tools: [
      {
        name: "fetch",
        description: "Fetch a URL",
        inputSchema: { type: "object", properties: { url: { type: "string" } }, required: ["url"] },
        mutates: false,
        approval: false,
        groups: [],
        timeoutSeconds: 10,
      },
    ],
  },
];

export const catalog = new ToolCatalog(SKILLS);

export function layers(policy: TaskContract, run?: TaskContract): ContractLayer[] {
  return run === undefined
    ? [{ name: "policy", contract: policy }]
    : [
        { name: "policy", contract: policy },
        { name: "run", contract: run },
      ];
}

export function machineEnv(
  contract: TaskContract,
  overrides: Partial<MachineEnv> = {},
  run?: TaskContract,
): MachineEnv {
  return {
    now: 1_800_000_000_000,
    source: "/knclaw/agents/ops",
    sign: (request) => signCapability(request, signingKey, { now: 1_800_000_000_000 }),
    catalog,
    contract: new EffectiveContract(layers(contract, run)),
    price: { inputPerMTok: 1_000_000, outputPerMTok: 1_000_000 },
    heartbeat: { okToken: "HEARTBEAT_OK", ackMaxChars: 300 },
    toolGraceSeconds: 60,
    maxInlineRetryDelaySeconds: 10,
    ...overrides,
  };
}

/** A minimal knclaw.yaml value with one instance `ops` (`instance` adds to it), for render and validation tests. */
export function platformWith(instance: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "knclaw.dev/v1alpha1",
    kind: "Platform",
    metadata: { name: "knclaw", namespace: "knclaw" },
    images: { registry: "ghcr.io/knclaw", default: "knclaw:0.1.0" },
    broker: { deadLetterSink: { disabled: true } },
    gateway: { enabled: false },
    policies: { default: {} },
    instances: { ops: { model: "demo/demo", ...instance } },
    ...extra,
  };
}
