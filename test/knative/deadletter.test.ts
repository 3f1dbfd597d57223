import { describe, expect, it } from "vitest";
import { type ConfigError, loadConfig, validateConfigValue } from "../../knative/config/index.ts";
import { type RenderedObject, render } from "../../knative/render/index.ts";
import { validateObjects } from "../../knative/validate/index.ts";
import { minimalConfig } from "./fixtures.ts";

/** The deadletter function as rendered: memory client with its own token, producer (replay), API token, retention. */
// biome-ignore lint/suspicious/noExplicitAny: rendered objects are checked field by field
const find = (objects: RenderedObject[], kind: string, name: string): any =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
// biome-ignore lint/suspicious/noExplicitAny: see above
const envOf = (ksvc: any): Record<string, any> =>
  // biome-ignore lint/suspicious/noExplicitAny: see above
  Object.fromEntries(ksvc.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

function withSink(deadLetterSink: Record<string, unknown>): Record<string, unknown> {
  return { ...minimalConfig(), broker: { deadLetterSink } };
}

function issuesOf(value: unknown): Array<{ path: string; rule: string; message: string }> {
  try {
    validateConfigValue(value);
  } catch (error) {
    return [...(error as ConfigError).issues];
  }
  return [];
}

describe("deadletter function rendering", () => {
  it("gets the memory URL, its own memory token, a SinkBinding for replays and an optional API token by default", () => {
    const objects = render(loadConfig());
    const env = envOf(find(objects, "Service", "deadletter"));
    expect(env.KNCLAW_MEMORY_URL).toBe("http://memory.knclaw.svc.cluster.local");
    expect(env.KNCLAW_MEMORY_TOKEN).toEqual({ secretKeyRef: { name: "knclaw-memory-tokens", key: "deadletter" } });
    expect(env.KNCLAW_DEADLETTER_TOKEN).toEqual({
      secretKeyRef: { name: "knclaw-deadletter", key: "api-token", optional: true },
    });
    expect(env.KNCLAW_DEADLETTER_MAX_ENTRIES).toBeUndefined();
    const binding = find(objects, "SinkBinding", "deadletter-sink");
    expect(binding.spec).toMatchObject({
      subject: { kind: "Service", name: "deadletter" },
      sink: { ref: { kind: "Broker", name: "default" } },
    });
    expect(validateObjects(objects, { checkReferences: true }).filter((p) => p.severity === "error")).toEqual([]);
  });

  it("takes the configured API token Secret (required then) and retention", () => {
    const config = validateConfigValue(
      withSink({ apiToken: { secret: "ops", key: "dlq" }, retention: { maxEntries: 500, maxAge: "P2D" } }),
    );
    const env = envOf(find(render(config), "Service", "deadletter"));
    expect(env.KNCLAW_DEADLETTER_TOKEN).toEqual({ secretKeyRef: { name: "ops", key: "dlq" } });
    expect(env.KNCLAW_DEADLETTER_MAX_ENTRIES).toBe("500");
    expect(env.KNCLAW_DEADLETTER_MAX_AGE_MS).toBe(String(2 * 86_400_000));
  });

  it("refuses an inline token, API settings for another destination, and retention out of range", () => {
    expect(issuesOf(withSink({ apiToken: "s3cret-value" })).map((i) => i.rule)).toContain("secret-ref");
    const elsewhere = issuesOf(
      withSink({ destination: { uri: "http://dls.example.com/" }, apiToken: { secret: "a", key: "b" } }),
    );
    expect(elsewhere.map((i) => i.rule)).toContain("dead-letter-sink");
    expect(issuesOf(withSink({ disabled: true, retention: { maxEntries: 5 } })).map((i) => i.rule)).toContain(
      "dead-letter-sink",
    );
    expect(issuesOf(withSink({ retention: { maxAge: "PT30S" } })).map((i) => i.rule)).toContain("duration");
    expect(issuesOf(withSink({ retention: { maxAge: "P400D" } })).map((i) => i.rule)).toContain("duration");
    expect(issuesOf(withSink({ retention: { maxEntries: 0 } }))).not.toEqual([]);
    expect(issuesOf(withSink({ retention: { maxAge: "P7D", maxEntries: 100 } }))).toEqual([]);
  });
});
