import type { Command } from "commander";
import type { ClusterCommandOptions, DeleteCommandOptions, DeployCommandOptions } from "../deploy/run.ts";

/**
 * `knclaw deploy`, `status` and `delete`. The work (and @kubernetes/client-node, a large library) is loaded when one
 * of them runs, so every other command starts without it.
 */
const load = () => import("../deploy/run.ts");

function dryRunMode(value: string): boolean {
  if (value !== "server") throw new Error(`--dry-run=${value}: only --dry-run=server is supported`);
  return true;
}

function clusterOptions(command: Command): Command {
  return command
    .option("-c, --config <file>", "platform config (default ./knclaw.yaml, else the shipped default)")
    .option("--kubeconfig <file>", "kubeconfig (default $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option("--context <name>", "kubeconfig context (default: its current context)")
    .option("--images <lock>", "pin functions on the image digest `knclaw image build --push` wrote to this lock");
}

export function registerDeployCommands(program: Command): void {
  clusterOptions(
    program
      .command("deploy")
      .description(
        "server-side apply the rendered platform (field manager knclaw), prune what the config dropped, wait until Ready",
      ),
  )
    .option("--secrets <dir>", "also apply the Secrets in DIR (`knclaw secrets generate -o DIR`)")
    .option("--dry-run <mode>", "`server`: the API server checks everything and stores nothing", dryRunMode)
    .option("--no-prune", "keep objects this platform applied before that the config no longer renders")
    .option("--no-wait", "do not wait for the Broker, Triggers and ksvcs to be Ready")
    .option("--timeout <seconds>", "how long to wait for Ready", (v) => Number(v), 300)
    .option(
      "--fail-after <seconds>",
      "how long an object may report Ready=False (controllers do, briefly, while things start) before deploy fails",
      (v) => Number(v),
      30,
    )
    .action(async (options: DeployCommandOptions & { timeout: number; failAfter: number }) => {
      await (await load()).runDeploy({
        ...options,
        timeoutSeconds: options.timeout,
        failAfterSeconds: options.failAfter,
      });
    });
  clusterOptions(
    program
      .command("status")
      .description("every rendered object with its Ready condition on the cluster, and the agent instances running"),
  ).action(async (options: ClusterCommandOptions) => {
    await (await load()).runStatus(options);
  });
  clusterOptions(
    program.command("delete").description("delete every object `knclaw deploy` applied for this platform (by label)"),
  )
    .option("--keep-namespace", "leave the platform namespace (and whatever else is in it)")
    .option("--dry-run <mode>", "`server`: the API server checks the deletes and performs none", dryRunMode)
    .action(async (options: DeleteCommandOptions) => {
      await (await load()).runDelete(options);
    });
}
