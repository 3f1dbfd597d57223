import { readImageLock, withImageLock } from "../../knative/config/image-lock.ts";
import { requireImages } from "../../knative/config/images.ts";
import { loadConfig } from "../../knative/config/index.ts";
import type { PlatformConfig } from "../../knative/config/schema.ts";
import {
  type ApplyObject,
  type Cluster,
  connectCluster,
  DeployError,
  type DeployReport,
  deleteObjects,
  deploy,
  formatTable,
  listOwned,
  type PlatformStatus,
  platformId,
  platformStatus,
  readSecretManifests,
} from "../../knative/deploy/index.ts";
import { render } from "../../knative/render/index.ts";
import { formatProblem, validateObjects } from "../../knative/validate/index.ts";
import { chooseConfig } from "../commands/dev.ts";

/**
 * `knclaw deploy`, `knclaw status`, `knclaw delete`: the rendered platform on a live cluster (knative/deploy). The
 * cluster comes from the kubeconfig as kubectl finds it (--kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster) and
 * --context. Output goes to `out` (results) and `progress` (what is happening meanwhile), so tests can collect both.
 */
export interface ClusterCommandOptions {
  config?: string;
  kubeconfig?: string;
  context?: string;
  /** An image lock from `knclaw image build --push`: functions run its digest (as `knclaw render --images`). */
  images?: string;
  /** Already connected (tests). */
  cluster?: Cluster;
  out?: (line: string) => void;
  progress?: (line: string) => void;
}

export interface DeployCommandOptions extends ClusterCommandOptions {
  secrets?: string;
  dryRun?: boolean;
  prune?: boolean;
  wait?: boolean;
  timeoutSeconds?: number;
  /** How long a Ready=False may last before the deploy fails on it. */
  failAfterSeconds?: number;
  intervalMs?: number;
}

interface Target {
  config: PlatformConfig;
  platform: string;
  objects: ApplyObject[];
  cluster: Cluster;
}

function target(options: ClusterCommandOptions): Target {
  const source = chooseConfig(options.config);
  const loaded = loadConfig(source);
  const config = requireImages(
    options.images === undefined ? loaded : withImageLock(loaded, readImageLock(options.images)),
    source,
  );
  const objects = render(config) as ApplyObject[];
  const cluster =
    options.cluster ??
    connectCluster({
      ...(options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : {}),
      ...(options.context !== undefined ? { context: options.context } : {}),
    });
  return { config, platform: platformId(config), objects, cluster };
}

export async function runDeploy(options: DeployCommandOptions): Promise<DeployReport> {
  const out = options.out ?? ((line: string) => console.log(line));
  const progress = options.progress ?? ((line: string) => console.error(line));
  const { config, platform, objects, cluster } = target(options);
  // The API server (1.20 certainly) does not run Knative's webhooks' rules or CEL, so knclaw checks them first.
  const oidc = config.oidc.enabled;
  const errors = validateObjects(objects, {
    checkReferences: true,
    authenticationOidc: oidc,
    deliveryAuth: oidc,
  }).filter((p) => p.severity === "error");
  if (errors.length > 0) {
    throw new DeployError(`the rendered objects do not validate:\n${errors.map(formatProblem).join("\n")}`);
  }
  const secrets = options.secrets !== undefined ? readSecretManifests(options.secrets) : undefined;
  const suffix = options.dryRun ? " (server dry run)" : "";
  progress(`deploying platform ${platform} to ${cluster.server}${suffix}`);
  let lastProgress = "";
  const report = await deploy(cluster.api, {
    platform,
    objects,
    ...(secrets !== undefined ? { secrets } : {}),
    dryRun: options.dryRun === true,
    prune: options.prune !== false,
    wait: options.wait !== false,
    timeoutMs: (options.timeoutSeconds ?? 300) * 1000,
    ...(options.failAfterSeconds !== undefined ? { falseGraceMs: options.failAfterSeconds * 1000 } : {}),
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    onApplied: (result) => out(`${result.object} ${result.action}${suffix}`),
    onPruned: (object) => out(`${object} pruned${suffix}`),
    onProgress: (ready, total, pending) => {
      const first = pending[0];
      const line =
        pending.length === 0
          ? `ready: ${ready}/${total}`
          : `waiting for Ready: ${ready}/${total}; ${first!.object}: ${first!.readiness.reason ?? first!.readiness.state}`;
      if (line !== lastProgress) progress(line);
      lastProgress = line;
    },
  });
  const count = (action: string) => report.applied.filter((r) => r.action === action).length;
  out(
    `${report.applied.length} objects: ${count("created")} created, ${count("configured")} configured, ${count("unchanged")} unchanged; ${report.pruned.length} pruned${suffix}`,
  );
  for (const ns of report.keptNamespaces) {
    out(`namespace ${ns} is no longer rendered; kept (delete it yourself if nothing else lives there)`);
  }
  if (report.urls.length > 0) {
    out("public URLs:");
    for (const { service, url } of report.urls) out(`  ${service}  ${url}`);
  }
  return report;
}

export async function runStatus(options: ClusterCommandOptions): Promise<PlatformStatus> {
  const out = options.out ?? ((line: string) => console.log(line));
  const { objects, cluster } = target(options);
  const status = await platformStatus(cluster.api, objects);
  out(
    formatTable(
      ["OBJECT", "READY", "REASON", "MESSAGE"],
      status.objects.map((o) => [o.object, o.ready, o.reason, o.message]),
    ),
  );
  if (status.instances.length > 0) {
    out("");
    out(
      formatTable(
        ["INSTANCE", "READY", "REVISION", "PODS", "URL"],
        status.instances.map((i) => [i.instance, i.ready, i.revision, i.pods, i.url]),
      ),
    );
  }
  return status;
}

export interface DeleteCommandOptions extends ClusterCommandOptions {
  keepNamespace?: boolean;
  dryRun?: boolean;
}

export async function runDelete(options: DeleteCommandOptions): Promise<string[]> {
  const out = options.out ?? ((line: string) => console.log(line));
  const { platform, cluster } = target(options);
  const owned = (await listOwned(cluster.api, platform)).filter(
    (o) => !(options.keepNamespace && o.kind === "Namespace"),
  );
  const suffix = options.dryRun ? " (server dry run)" : "";
  const deleted = await deleteObjects(cluster.api, owned, {
    dryRun: options.dryRun === true,
    onDeleted: (object) => out(`${object} deleted${suffix}`),
  });
  out(`${deleted.length} objects of platform ${platform} deleted${suffix}`);
  return deleted;
}
