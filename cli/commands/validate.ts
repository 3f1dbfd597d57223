import type { Command } from "commander";
import { egressWarnings } from "../../knative/config/egress-warnings.ts";
import { missingImages } from "../../knative/config/images.ts";
import {
  ConfigError,
  type ConfigIssue,
  configWarnings,
  defaultConfigPath,
  formatIssue,
  loadConfig,
} from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";
import { skillFolderWarnings } from "../../knative/render/skill-folders.ts";
import { formatProblem, type Problem, validateObjects, type WebhookOptions } from "../../knative/validate/index.ts";
import { collectValues } from "./feature-flags.ts";
import { type ManifestsCommandOptions, validateManifestsCommand } from "./validate-manifests.ts";

export interface ValidateOptions extends Partial<WebhookOptions> {
  config?: string;
  /** Treat warnings as errors. */
  strict?: boolean;
}

export interface ValidateReport {
  ok: boolean;
  /** Config errors (schema, references, literal secrets, YAML syntax). */
  configErrors: ConfigIssue[];
  configWarnings: ConfigIssue[];
  /** Problems in the rendered objects (schemas, webhook rules, references, hardening). */
  objectProblems: Problem[];
  objectCount: number;
}

/** `knclaw validate`: the config, then every rendered object against the schemas and the Knative webhook rules. */
export function runValidate(options: ValidateOptions = {}): ValidateReport {
  const refused = (configErrors: ConfigIssue[]): ValidateReport => ({
    ok: false,
    configErrors,
    configWarnings: [],
    objectProblems: [],
    objectCount: 0,
  });
  let config: ReturnType<typeof loadConfig>;
  let objects: ReturnType<typeof render>;
  try {
    config = loadConfig(options.config ?? defaultConfigPath);
    // A cluster pulls an image per function (knclaw dev alone runs without them).
    const imageless = missingImages(config);
    if (imageless.length > 0) return refused(imageless);
    // Rendering reads the skill folders, and refuses one a ConfigMap cannot hold.
    objects = render(config);
  } catch (error) {
    if (error instanceof ConfigError) return refused([...error.issues]);
    throw error;
  }
  // What the config gets wrong for a cluster, including calls its own egress policies would block and skill folder
  // files that do not reach it.
  const warnings = [...configWarnings(config), ...egressWarnings(config, objects), ...skillFolderWarnings(config)];
  const { config: _config, strict: _strict, ...webhook } = options;
  const problems = withoutRepeatedImageWarnings(
    validateObjects(objects, {
      // A config rendering for OIDC says the cluster has it on (its EventPolicies need it).
      authenticationOidc: config.oidc.enabled,
      ...webhook,
      checkReferences: true,
      hardening: true,
      deliveryAuth: config.oidc.enabled,
    }),
    warnings,
  );
  const errors = problems.filter((p) => p.severity === "error");
  const ok = errors.length === 0 && (!options.strict || (warnings.length === 0 && problems.length === 0));
  return { ok, configErrors: [], configWarnings: warnings, objectProblems: problems, objectCount: objects.length };
}

/**
 * The config's image-digest warning names each unpinned image once, with every function that runs it; the rendered
 * Services' own check would repeat it once per Service. A Service's warning stays when the config's does not say
 * the same (an image that did not come from `images`).
 */
function withoutRepeatedImageWarnings(problems: Problem[], warnings: readonly ConfigIssue[]): Problem[] {
  const said = warnings.filter((warning) => warning.rule === IMAGE_DIGEST).map((warning) => warning.message);
  return problems.filter(
    (problem) => problem.rule !== IMAGE_DIGEST || !said.some((message) => message.startsWith(`${problem.message} (`)),
  );
}

const IMAGE_DIGEST = "image-digest";

export function formatValidateReport(report: ValidateReport, source: string): string {
  const lines: string[] = [];
  for (const issue of report.configErrors) lines.push(`error: ${formatIssue(issue, source)}`);
  for (const issue of report.configWarnings) lines.push(`warning: ${formatIssue(issue, source)}`);
  for (const problem of report.objectProblems) lines.push(formatProblem(problem));
  const errors = report.configErrors.length + report.objectProblems.filter((p) => p.severity === "error").length;
  const warnings = report.configWarnings.length + report.objectProblems.filter((p) => p.severity === "warning").length;
  lines.push(
    report.configErrors.length > 0
      ? `${source}: invalid config (${errors} error${errors === 1 ? "" : "s"})`
      : `${source}: ${report.objectCount} objects, ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}${report.ok ? "" : " (failed)"}`,
  );
  return lines.join("\n");
}

export function registerValidateCommand(program: Command): void {
  program
    .command("validate")
    .description(
      "check knclaw.yaml and the objects it renders (or, with --manifests, a folder of Knative YAML as knclaw dev loads it) against the Kubernetes/Knative schemas and webhook rules",
    )
    .option("-c, --config <file>", "platform config", defaultConfigPath)
    .option("--strict", "fail on warnings too")
    .option(
      "-m, --manifests <dir>",
      "check this folder of Knative YAML as knclaw dev --manifests loads it (with the config only when -c is given)",
    )
    .option("--service <[ns/]name=url>", "with --manifests: as knclaw dev --service (repeatable)", collectValues)
    .option("--run <[ns/]name=command>", "with --manifests: as knclaw dev --run (nothing is run)", collectValues)
    .option("--cross-namespace-event-links <state>", "with --manifests: as knclaw dev (enabled or disabled)")
    .option("--authentication-oidc <state>", "with --manifests: as knclaw dev (enabled or disabled)", "enabled")
    .option("--max-timeout <seconds>", "the cluster's max-revision-timeout-seconds", (v) => Number(v))
    .option("--max-concurrency <n>", "the cluster's container-concurrency-max-limit", (v) => Number(v))
    .option("--allow-zero-initial-scale", "the cluster allows initial-scale 0")
    .option("--no-delivery-timeout", "the cluster has the delivery-timeout feature disabled")
    .action(
      (
        options: {
          config: string;
          strict?: boolean;
          maxTimeout?: number;
          maxConcurrency?: number;
          allowZeroInitialScale?: boolean;
          deliveryTimeout: boolean;
        } & ManifestsCommandOptions,
        command: Command,
      ) => {
        if (options.manifests !== undefined) {
          const explicitConfig = command.getOptionValueSource("config") !== "default";
          validateManifestsCommand({ ...options, config: explicitConfig ? options.config : undefined });
          return;
        }
        const report = runValidate({
          config: options.config,
          strict: options.strict === true,
          ...(options.maxTimeout !== undefined ? { maxRevisionTimeoutSeconds: options.maxTimeout } : {}),
          ...(options.maxConcurrency !== undefined ? { containerConcurrencyMaxLimit: options.maxConcurrency } : {}),
          ...(options.allowZeroInitialScale ? { allowZeroInitialScale: true } : {}),
          deliveryTimeout: options.deliveryTimeout,
        });
        const text = formatValidateReport(report, options.config);
        if (report.ok) console.log(text);
        else {
          console.error(text);
          process.exitCode = 1;
        }
      },
    );
}
