import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { registerRenderCommand, runRender } from "../../cli/commands/render.ts";
import { formatValidateReport, registerValidateCommand, runValidate } from "../../cli/commands/validate.ts";
import { defaultConfigPath } from "../../knative/config/index.ts";
import { minimalConfig } from "./fixtures.ts";

describe("knclaw render / validate", () => {
  it("render writes one file per function plus kustomization.yaml, all parseable", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-render-"));
    const result = runRender({ out: dir });
    const names = readdirSync(dir).sort();
    expect(names[0]).toBe("00-platform.yaml");
    expect(names).toContain("kustomization.yaml");
    expect(names).toContain("10-agent-assistant.yaml");
    expect(result.files.length).toBe(names.length);
    for (const name of names) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, name), "utf8"))) expect(doc.errors).toEqual([]);
    }
    const plain = mkdtempSync(join(tmpdir(), "knclaw-render-"));
    runRender({ out: plain, kustomization: false });
    expect(readdirSync(plain)).not.toContain("kustomization.yaml");
  });

  it("render without -o returns the YAML", () => {
    const { yaml } = runRender({});
    expect(yaml).toContain("kind: Broker");
    expect(parseAllDocuments(yaml!).length).toBeGreaterThan(20);
  });

  it("validate passes the default config and fails a broken one, naming path and rule", () => {
    const ok = runValidate({});
    expect(ok.ok).toBe(true);
    expect(ok.configErrors).toEqual([]);
    expect(formatValidateReport(ok, "knclaw.yaml")).toMatch(/0 errors/);
    expect(runValidate({ strict: true }).ok).toBe(false);

    const dir = mkdtempSync(join(tmpdir(), "knclaw-validate-"));
    const file = join(dir, "knclaw.yaml");
    const config = minimalConfig() as Record<string, any>;
    config.instances.ops.schedules[0].schedule = "@every 10m";
    writeFileSync(file, stringify(config));
    const bad = runValidate({ config: file });
    expect(bad.ok).toBe(false);
    const text = formatValidateReport(bad, file);
    expect(text).toContain("instances.ops.schedules[0].schedule: cron-every");
    expect(text).toMatch(/:\d+:\d+: /);

    const slow = minimalConfig() as Record<string, any>;
    slow.instances.ops.timeoutSeconds = 900;
    writeFileSync(file, stringify(slow));
    const cluster = runValidate({ config: file });
    expect(cluster.ok).toBe(false);
    expect(
      cluster.objectProblems.some((p) => p.rule === "timeout-seconds" && p.object === "Service/knclaw/agent-ops"),
    ).toBe(true);
    expect(runValidate({ config: file, maxRevisionTimeoutSeconds: 900 }).ok).toBe(true);
  });

  it("validate warns when a production profile (state in Redis) runs its broker on InMemoryChannel", () => {
    const production = parse(readFileSync(join(dirname(defaultConfigPath), "production.yaml"), "utf8")) as Record<
      string,
      Record<string, unknown>
    >;
    const dir = mkdtempSync(join(tmpdir(), "knclaw-validate-"));
    const file = join(dir, "knclaw.yaml");
    const warningsFor = (broker: Record<string, unknown>, memory = production.memory) => {
      writeFileSync(file, stringify({ ...production, broker: { name: "default", ...broker }, memory }));
      const report = runValidate({ config: file });
      expect(report.configErrors).toEqual([]);
      return { report, durability: report.configWarnings.filter((w) => w.rule === "broker-durability") };
    };

    // The shipped production profile (Kafka broker) and a KafkaChannel-backed broker are durable: nothing to say.
    expect(warningsFor(production.broker ?? {}).durability).toEqual([]);
    expect(warningsFor({ class: "MTChannelBasedBroker", channel: "KafkaChannel" }).durability).toEqual([]);
    // A ConfigMap of the operator's own: knclaw cannot tell which channel it names.
    expect(warningsFor({ class: "MTChannelBasedBroker", config: { name: "my-channel" } }).durability).toEqual([]);

    const inMemory = warningsFor({ class: "MTChannelBasedBroker", channel: "InMemoryChannel" });
    expect(inMemory.durability).toEqual([
      expect.objectContaining({
        path: "broker.channel",
        message: expect.stringMatching(/InMemoryChannel is not durable/),
      }),
    ]);
    // A warning, not an error: validate passes unless --strict.
    expect(inMemory.report.ok).toBe(true);
    expect(formatValidateReport(inMemory.report, file)).toMatch(/warning: .*broker\.channel.*broker-durability/);
    expect(runValidate({ config: file, strict: true }).ok).toBe(false);

    // No channel named: the cluster default, InMemoryChannel on a stock Knative install.
    const unnamed = warningsFor({ class: "MTChannelBasedBroker" });
    expect(unnamed.durability).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/cluster's default channel/) }),
    ]);

    // Without Redis the config is not a production profile (the memory-backend warning says so instead).
    const trial = warningsFor({ class: "MTChannelBasedBroker", channel: "InMemoryChannel" }, { minScale: 1 });
    expect(trial.durability).toEqual([]);
    expect(trial.report.configWarnings.map((w) => w.rule)).toContain("memory-backend");
  });

  it("validate says an unpinned image once, naming every Service that runs it, not once per Service", () => {
    const report = runValidate({});
    const text = formatValidateReport(report, "knclaw.yaml");
    const lines = text.split("\n").filter((line) => line.includes("image-digest"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /ghcr\.io\/knclaw\/knclaw:0\.1\.0 is not pinned by digest .*\(used by memory, .*agent-assistant/,
    );
    expect(report.objectProblems.filter((p) => p.rule === "image-digest")).toEqual([]);
    // The other hardening warnings of the Services still show.
    expect(text).not.toMatch(/warning: Service\/.*image/);
  });

  it("a config without images: valid, and only the commands that put it on a cluster ask for them", () => {
    const dir = mkdtempSync(join(tmpdir(), "knclaw-images-"));
    const file = join(dir, "knclaw.yaml");
    const config = minimalConfig() as Record<string, unknown>;
    delete config.images;
    writeFileSync(file, stringify(config));
    const report = runValidate({ config: file });
    expect(report.ok).toBe(false);
    expect(report.configErrors.map((issue) => `${issue.path} ${issue.rule}`)).toContain("images image-ref");
    expect(formatValidateReport(report, file)).toMatch(
      /error: .*images: image-ref: no image for function agent-ops: set images\.functions\.agent-ops, images\.functions\.agent or images\.default, or pass an image lock \(--images\); only knclaw dev runs without images/,
    );
    expect(() => runRender({ config: file })).toThrow(/no image for function agent-ops/);
    // An image lock (knclaw image build --push) fills images.default: render needs nothing more.
    const lock = join(dir, "knclaw-images.lock.yaml");
    const digest = `ghcr.io/me/knclaw@sha256:${"a".repeat(64)}`;
    writeFileSync(
      lock,
      stringify({ apiVersion: "knclaw.dev/v1alpha1", kind: "ImageLock", images: { default: digest } }),
    );
    expect(runRender({ config: file, images: lock }).yaml).toContain(`image: ${digest}`);
  });

  it("registers commander commands the CLI entry can wire", async () => {
    const program = new Command().exitOverride();
    registerRenderCommand(program);
    registerValidateCommand(program);
    expect(program.commands.map((c) => c.name())).toEqual(["render", "validate"]);
    const dir = mkdtempSync(join(tmpdir(), "knclaw-cmd-"));
    await program.parseAsync(["node", "knclaw", "render", "-o", dir]);
    expect(readdirSync(dir)).toContain("00-platform.yaml");
  });
});
