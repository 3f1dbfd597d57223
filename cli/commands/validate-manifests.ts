import type { KnativeObject } from "../../eventing/broker/objects.ts";
import { withPlaceholderImages } from "../../knative/config/images.ts";
import { loadConfig } from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";
import { formatProblem } from "../../knative/validate/index.ts";
import { checkDevObjects, type DevObjectsReport } from "../dev/load-objects.ts";
import { parseServiceCommands, parseServiceMap } from "../dev/service-map.ts";
import { featureState } from "./feature-flags.ts";

export interface ValidateManifestsOptions {
  manifests: string;
  /** Check the folder together with the objects this config renders, as `knclaw dev -c FILE -m DIR` runs them. */
  config?: string;
  /** `--service [NS/]NAME=URL` values, as knclaw dev takes them. */
  services?: string[];
  /** `--run [NS/]NAME=COMMAND` values: the Services count as running (nothing is started). */
  commands?: string[];
  /** Eventing's authentication-oidc feature (knclaw dev's default: on). */
  authenticationOidc?: boolean;
  /** Eventing's cross-namespace-event-links feature; undefined: the folder's config-features, else off. */
  crossNamespaceEventLinks?: boolean;
  /** Fail on warnings and on objects that would not be Ready too. */
  strict?: boolean;
}

export interface ValidateManifestsReport extends DevObjectsReport {
  ok: boolean;
}

/**
 * `knclaw validate --manifests DIR`: the folder checked exactly as `knclaw dev --manifests DIR` loads it
 * (cli/dev/load-objects.ts, one code path): Knative's webhook rules (errors refuse the folder), what knclaw dev would
 * not run, and what would not be Ready there with Knative's condition and reason.
 */
export function runValidateManifests(options: ValidateManifestsOptions): ValidateManifestsReport {
  // As knclaw dev renders the config: images are not needed to run it here (knative/config/images.ts).
  const objects = options.config
    ? (render(withPlaceholderImages(loadConfig(options.config)), {
        skillFolders: "local",
      }) as unknown as KnativeObject[])
    : ([] as KnativeObject[]);
  const report = checkDevObjects(objects, options.manifests, {
    authenticationOidc: options.authenticationOidc ?? true,
    services: parseServiceMap(options.services ?? []),
    commands: parseServiceCommands(options.commands ?? []),
    ...(options.crossNamespaceEventLinks !== undefined
      ? { crossNamespaceEventLinks: options.crossNamespaceEventLinks }
      : {}),
  });
  const errors = report.problems.filter((p) => p.severity === "error").length;
  const ok = errors === 0 && (!options.strict || (report.problems.length === 0 && report.notReady.length === 0));
  return { ...report, ok };
}

export function formatManifestsReport(report: ValidateManifestsReport, source: string): string {
  const lines = report.problems.map(formatProblem);
  for (const object of report.notReady) {
    const acting = object.acting ? " (subscribed all the same, as on a cluster)" : "";
    lines.push(`not Ready: ${object.object}: ${object.condition}=False ${object.reason}: ${object.message}${acting}`);
  }
  for (const object of report.notRun) lines.push(`not run: ${object}`);
  const errors = report.problems.filter((p) => p.severity === "error").length;
  const warnings = report.problems.length - errors;
  const o = report.objects;
  const acting =
    o.brokers.length + o.triggers.length + o.pingSources.length + o.sinkBindings.length + o.eventPolicies.length;
  lines.push(
    errors > 0
      ? `${source}: refused (${errors} error${errors === 1 ? "" : "s"}): knclaw dev would not start, a cluster would not admit it`
      : `${source}: ${acting} object${acting === 1 ? "" : "s"} acting, ${report.notReady.length} not Ready, ${report.notRun.length} not run, ${warnings} warning${warnings === 1 ? "" : "s"}${report.ok ? "" : " (failed)"}`,
  );
  return lines.join("\n");
}

/** The command line of `knclaw validate --manifests`. */
export interface ManifestsCommandOptions {
  manifests?: string;
  service?: string[];
  run?: string[];
  crossNamespaceEventLinks?: string;
  authenticationOidc?: string;
  strict?: boolean;
}

export function validateManifestsCommand(options: ManifestsCommandOptions & { config: string | undefined }): void {
  const crossNamespaceEventLinks = featureState("cross-namespace-event-links", options.crossNamespaceEventLinks);
  const authenticationOidc = featureState("authentication-oidc", options.authenticationOidc);
  const report = runValidateManifests({
    manifests: options.manifests!,
    ...(options.config !== undefined ? { config: options.config } : {}),
    services: options.service ?? [],
    commands: options.run ?? [],
    ...(authenticationOidc !== undefined ? { authenticationOidc } : {}),
    ...(crossNamespaceEventLinks !== undefined ? { crossNamespaceEventLinks } : {}),
    strict: options.strict === true,
  });
  const text = formatManifestsReport(report, options.manifests!);
  if (report.ok) console.log(text);
  else {
    console.error(text);
    process.exitCode = 1;
  }
}
