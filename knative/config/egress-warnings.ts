/**
 * URLs the config has a function call that the function's rendered egress NetworkPolicy does not let it reach: the
 * call would hang until it times out on the cluster, while it works under `knclaw dev` (no policies there).
 * `knclaw validate` prints them as warnings; they never block (a CNI without NetworkPolicy enforcement, or a policy of
 * the operator's own, may still let the call through).
 *
 * What is checked: each agent's model provider (`provider.baseUrl`, or the provider's default), each channel
 * adapter's platform API base URL (a `settings.<platform>ApiBaseUrl`), and each external skill's URL (the broker
 * delivers to it from Knative's namespace, so only the platform namespace's default-deny can stand in its way: an
 * external skill run in that namespace gets no egress at all).
 */
import { ANNOTATION_EGRESS_HOSTS } from "../../runtime/names.ts";
import type { ConfigIssue } from "./errors.ts";
import type { PlatformConfig } from "./schema.ts";

/** The shape of a rendered object this module reads (knative/render/types.ts's RenderedObject). */
interface ObjectLike {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: unknown;
}

interface PolicyPeer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: unknown;
}
interface PolicyEntry {
  to?: PolicyPeer[];
  ports?: Array<{ port: number }>;
}

/** Where the agent runtime sends a provider's calls when the config names no base URL (functions/agent/providers). */
const DEFAULT_PROVIDER_URLS: Record<string, string> = { ollama: "http://127.0.0.1:11434/v1" };

/** Host names no public DNS answers: a policy that allows host names as public addresses never reaches them. */
const PRIVATE_NAME = /\.(local|internal|lan|home\.arpa|corp|intranet)$/;

export function egressWarnings(config: PlatformConfig, objects: readonly ObjectLike[]): ConfigIssue[] {
  if (!config.network.egressPolicies) return [];
  const warnings: ConfigIssue[] = [];
  const policyOf = (fn: string) =>
    objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === `${fn}-egress`) as ObjectLike | undefined;
  const check = (fn: string, url: string | undefined, path: string, what: string) => {
    const policy = url === undefined ? undefined : policyOf(fn);
    if (url === undefined || policy === undefined) return;
    const reason = unreachable(new URL(url), policy, config);
    if (reason !== undefined) {
      warnings.push({ path, rule: "egress-reach", message: `${fn} calls ${what} at ${url}, but ${reason}` });
    }
  };

  for (const [name, instance] of Object.entries(config.instances)) {
    const provider = instance.model.split("/")[0]!;
    const path = `instances.${name}.provider.baseUrl`;
    check(`agent-${name}`, instance.provider.baseUrl ?? DEFAULT_PROVIDER_URLS[provider], path, `its ${provider} model`);
  }
  for (const [type, channel] of Object.entries(config.channels)) {
    if (channel === undefined || !channel.enabled) continue;
    for (const [key, value] of Object.entries(channel.settings)) {
      if (!/ApiBaseUrl$/.test(key) || !URL.canParse(value)) continue;
      check(`channel-${type}`, value, `channels.${type}.settings.${key}`, `the ${type} API`);
    }
  }
  const namespaceDenies = objects.some(
    (o) => o.kind === "NetworkPolicy" && o.metadata.name === "knclaw-default-deny-egress",
  );
  for (const [name, skill] of Object.entries(config.skills)) {
    if (!skill.enabled || skill.external === undefined || !namespaceDenies) continue;
    const target = inClusterService(new URL(skill.external.url).hostname, config);
    if (target?.namespace === config.metadata.namespace) {
      warnings.push({
        path: `skills.${name}.external.url`,
        rule: "egress-reach",
        message: `the external skill ${name} runs in the platform namespace ${target.namespace}, where knclaw-default-deny-egress denies its pods all egress (DNS and its own backends included): run it in another namespace, or give its pods a NetworkPolicy of their own`,
      });
    }
  }
  return warnings;
}

/** Why the policy does not let its pods reach the URL, or undefined when it does. */
function unreachable(url: URL, policy: ObjectLike, config: PlatformConfig): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  const entries = ((policy.spec as { egress?: PolicyEntry[] } | undefined)?.egress ?? []).filter(
    (entry) => entry.ports === undefined || entry.ports.some((p) => p.port === port),
  );
  const peers = entries.flatMap((entry) => entry.to ?? []);
  const name = policy.metadata.name;
  if (host === "localhost" || host === "::1" || host.startsWith("127.")) {
    return `${host} is the function's own pod on a cluster, where nothing serves it: set the URL to where it runs`;
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) {
    if (peers.some((peer) => peer.ipBlock !== undefined && blockHas(peer.ipBlock, host))) return undefined;
    return `its egress policy ${name} allows no address block holding ${host} on port ${port}: add it to the function's egress (a cidr rule)`;
  }
  const service = inClusterService(host, config);
  if (service !== undefined) {
    const allowed = peers.some((peer) => {
      const labels = peer.namespaceSelector?.matchLabels;
      return (
        peer.namespaceSelector !== undefined &&
        (labels === undefined || labels["kubernetes.io/metadata.name"] === service.namespace)
      );
    });
    if (allowed) return undefined;
    return `its egress policy ${name} allows nothing in namespace ${service.namespace} on port ${port}: add a namespace rule to the function's egress`;
  }
  if (PRIVATE_NAME.test(host)) {
    // Where it resolves is not known here: an address block of the operator's own (a cidr rule) may hold it.
    const own = peers.some((peer) => peer.ipBlock !== undefined && peer.ipBlock.except === undefined);
    if (own) return undefined;
    return `${host} is a private name, and its egress policy ${name} allows host names only as public addresses (private ranges excepted): give the function a cidr rule for where it resolves`;
  }
  const declared = (policy.metadata.annotations?.[ANNOTATION_EGRESS_HOSTS] ?? "").split(",");
  const publicOnPort = peers.some((peer) => peer.ipBlock?.cidr === "0.0.0.0/0");
  if (declared.includes(host) && publicOnPort) return undefined;
  return `${host} is not among the hosts its egress policy ${name} declares (${ANNOTATION_EGRESS_HOSTS}: ${declared.filter(Boolean).join(", ") || "none"}) on port ${port}: add it to the function's egress`;
}

/**
 * A Service of the cluster: `<service>.<namespace>.svc[.<cluster domain>]`, or a bare name, which a pod's DNS search
 * path resolves in its own namespace (the platform's).
 */
function inClusterService(host: string, config: PlatformConfig): { namespace: string } | undefined {
  if (/^[a-z0-9-]+$/.test(host)) return { namespace: config.metadata.namespace };
  const domain = config.network.clusterDomain.replace(/\./g, "\\.");
  const match = new RegExp(`^[a-z0-9-]+\\.([a-z0-9-]+)\\.svc(\\.${domain})?$`).exec(host);
  return match ? { namespace: match[1]! } : undefined;
}

function blockHas(block: { cidr: string; except?: string[] }, ip: string): boolean {
  return cidrHas(block.cidr, ip) && !(block.except ?? []).some((cidr) => cidrHas(cidr, ip));
}

function cidrHas(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split("/");
  if (base === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(base)) return false;
  const size = Number(bits ?? 32);
  const mask = size === 0 ? 0 : (~0 << (32 - size)) >>> 0;
  return (toInt(base) & mask) >>> 0 === (toInt(ip) & mask) >>> 0;
}

function toInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => ((acc << 8) + Number(part)) >>> 0, 0);
}
