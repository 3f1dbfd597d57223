import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { withPlaceholderImages } from "../../knative/config/images.ts";
import { loadConfig } from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";
import {
  checkPublicKeys,
  type GeneratedSecrets,
  generateSecrets,
  type PublicKeyCheck,
  publicKeysConfigSnippet,
  readSecretsDir,
  secretsYaml,
  writeSecretFiles,
} from "../../knative/secrets/index.ts";
import { chooseConfig } from "./dev.ts";

/**
 * `knclaw secrets generate`: the Secrets the rendered manifests reference whose values knclaw itself defines (memory
 * token key and per-client memory tokens, agent signing keys, the other producers' event signing keys and the trust
 * bundle of their public keys, the dead-letter API token, the gateway tokens named in config; knative/secrets), as
 * Kubernetes Secret YAML. Values go only into files of mode 0600 (-o DIR) or, when asked for explicitly, to stdout
 * (--stdout); what is printed otherwise names Secrets and keys, never a value. --from DIR keeps the values of an
 * earlier run; --rotate replaces the named ones (a signing key's previous public key stays trusted); --retire stops
 * trusting the previous keys of the named signing keys.
 */
export interface SecretsGenerateOptions {
  config?: string;
  out?: string;
  stdout?: boolean;
  from?: string;
  rotate?: string[];
  retire?: string[];
}

export interface SecretsGenerateResult {
  configPath: string;
  generated: GeneratedSecrets;
  /** Files written (-o). */
  files: string[];
  /** The YAML (--stdout). */
  yaml?: string;
  publicKeys: Record<string, PublicKeyCheck>;
}

export function runSecretsGenerate(options: SecretsGenerateOptions): SecretsGenerateResult {
  if (options.out !== undefined && options.stdout) throw new Error("choose one of -o DIR and --stdout");
  const out = options.out ?? (options.stdout ? undefined : options.from);
  if (out === undefined && !options.stdout) {
    throw new Error("say where the values go: -o DIR (files of mode 0600) or --stdout");
  }
  const configPath = chooseConfig(options.config);
  const config = loadConfig(configPath);
  const previous = options.from === undefined ? undefined : readSecretsDir(resolve(options.from));
  // The Secrets do not depend on the images: they can be made before any image is built.
  const generated = generateSecrets(render(withPlaceholderImages(config)), {
    previous,
    rotate: options.rotate ?? [],
    retire: options.retire ?? [],
  });
  const publicKeys = checkPublicKeys(config, generated.agentPublicKeys);
  if (out === undefined) return { configPath, generated, files: [], yaml: secretsYaml(generated.secrets), publicKeys };
  if (options.from === undefined) {
    // Writing fresh values over an earlier set would rotate everything by accident.
    const earlier = generated.secrets.map((s) => join(out, `${s.metadata.name}.yaml`)).filter((p) => existsSync(p));
    if (earlier.length > 0) {
      throw new Error(
        `${out} already holds ${earlier.join(", ")}: pass --from ${out} to keep those values (and --rotate <secret> to replace some)`,
      );
    }
  }
  return { configPath, generated, files: writeSecretFiles(out, generated.secrets), publicKeys };
}

/** What to tell the operator: Secrets and keys with what happened to each, what else is needed, the public keys. */
export function describeSecretsResult(result: SecretsGenerateResult): string[] {
  const lines: string[] = [];
  const { generated } = result;
  generated.secrets.forEach((secret, index) => {
    const keys = generated.keys
      .filter((k) => k.ref.namespace === secret.metadata.namespace && k.ref.secret === secret.metadata.name)
      .map((k) => `${k.ref.key} (${k.status})`);
    const where = result.files[index] !== undefined ? `wrote ${result.files[index]}: ` : "";
    lines.push(`${where}Secret ${secret.metadata.namespace}/${secret.metadata.name}: ${keys.join(", ")}`);
  });
  if (generated.overlaps.length > 0) {
    lines.push("", "Still trusted beside the new key (events signed before the rotation keep verifying):");
    for (const { ref, roles } of generated.overlaps) {
      lines.push(
        `  the previous key of ${ref.secret}/${ref.key} (${roles.join(", ")}): --retire ${ref.secret}/${ref.key} once nothing signed with it is in flight`,
      );
    }
  }
  if (generated.external.length > 0) {
    lines.push("", "Also referenced, not generated (create these Secrets yourself):");
    for (const ref of generated.external) {
      lines.push(`  ${ref.namespace}/${ref.secret} key ${ref.key}  (${ref.consumers.join(", ")})`);
    }
  }
  const instances = Object.keys(result.publicKeys).sort();
  if (instances.length > 0) {
    lines.push(
      "",
      `Agent public keys in ${result.configPath} (skills accept an agent's tool calls only with its key):`,
    );
    for (const instance of instances) {
      const check = result.publicKeys[instance]!;
      const said = {
        matches: "instances.%s.publicKey matches",
        missing: "instances.%s.publicKey is missing: add it",
        differs: "instances.%s.publicKey is a different key: replace it",
        "unknown-instance": "%s is not an instance of this config",
      }[check].replace("%s", instance);
      lines.push(`  ${said}`);
    }
    const stale = Object.fromEntries(
      instances
        .filter((instance) => result.publicKeys[instance] !== "matches")
        .map((instance) => [instance, generated.agentPublicKeys[instance]!]),
    );
    if (Object.keys(stale).length > 0) {
      lines.push("", "Paste into knclaw.yaml (public keys, not secret), then render again:", "");
      lines.push(...publicKeysConfigSnippet(stale).trimEnd().split("\n"));
    }
  }
  if (result.files.length > 0) {
    lines.push("", `Apply before the rendered manifests: kubectl apply -f ${dirname(result.files[0]!)}`);
  }
  return lines;
}

const collect = (value: string, list: string[]) => [...list, value];

export function registerSecretsCommand(program: Command): void {
  const secrets = program.command("secrets").description("the Secrets whose values knclaw itself defines");
  secrets
    .command("generate")
    .description(
      "write the platform's own Secrets (memory tokens, signing keys and their trust bundle, dead-letter and gateway tokens) as Kubernetes YAML",
    )
    .option("-c, --config <file>", "platform config (default ./knclaw.yaml, else the shipped default)")
    .option("-o, --out <dir>", "write one file per Secret into DIR (mode 0600)")
    .option("--stdout", "print the Secrets, values included, to stdout")
    .option("--from <dir>", "keep the values of an earlier run in DIR (default output directory too)")
    .option("--rotate <secret[/key]>", "generate this Secret (or one key) anew; repeatable", collect, [])
    .option(
      "--retire <secret[/key]>",
      "stop trusting the key a rotation of this signing key replaced; repeatable",
      collect,
      [],
    )
    .action((options: SecretsGenerateOptions) => {
      const result = runSecretsGenerate(options);
      if (result.yaml !== undefined) process.stdout.write(result.yaml);
      // With --stdout, stdout is the YAML alone (to pipe into kubectl); the report goes to stderr.
      const report = `${describeSecretsResult(result).join("\n")}\n`;
      if (result.yaml !== undefined) process.stderr.write(report);
      else process.stdout.write(report);
    });
}
