import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { formatValidateReport, runValidate } from "../../cli/commands/validate.ts";
import { egressWarnings } from "../../knative/config/egress-warnings.ts";
import { validateConfigValue } from "../../knative/config/index.ts";
import { render } from "../../knative/render/index.ts";
import { minimalConfig } from "./fixtures.ts";

/**
 * `knclaw validate` warns about a call a function's own rendered egress NetworkPolicy would block on the cluster
 * (it works under knclaw dev, which has no policies): the model provider, a chat platform's API base URL, an external
 * skill in the platform namespace. Each case is judged against the objects the config renders.
 */
type Edit = (config: Record<string, any>) => void;

function warningsFor(edit: Edit): Array<{ path: string; message: string }> {
  const value = minimalConfig() as Record<string, any>;
  edit(value);
  const config = validateConfigValue(value);
  return egressWarnings(config, render(config)).map(({ path, message }) => ({ path, message }));
}

const model =
  (baseUrl: string | undefined, egress: unknown[] = [], name = "openai-compatible/m"): Edit =>
  (c) => {
    c.instances.ops.model = name;
    c.instances.ops.provider = baseUrl === undefined ? {} : { baseUrl };
    c.instances.ops.egress = egress;
  };

describe("knclaw validate: calls outside the rendered egress policy", () => {
  it("a model served in the cluster: warned until the agent's egress names its namespace", () => {
    const url = "http://vllm.models.svc.cluster.local:8000/v1";
    expect(warningsFor(model(url))).toEqual([
      {
        path: "instances.ops.provider.baseUrl",
        message: expect.stringMatching(
          /^agent-ops calls its openai-compatible model at http:\/\/vllm\.models.*allows nothing in namespace models on port 8000/,
        ),
      },
    ]);
    expect(warningsFor(model(url, [{ namespace: "models", ports: [8000] }]))).toEqual([]);
    // A bare name is a Service of the platform's own namespace.
    expect(warningsFor(model("http://vllm:8000/v1"))[0]?.message).toMatch(/namespace knclaw on port 8000/);
  });

  it("a public model API or an address block the policy holds: nothing to say", () => {
    expect(warningsFor(model("https://llm.example.com/v1"))).toEqual([]);
    expect(warningsFor(model("http://10.1.2.3:8000/v1"))).toEqual([]);
    expect(warningsFor((c) => (c.instances.ops.model = "demo/echo"))).toEqual([]);
  });

  it("a private host name, which a public-address rule never reaches", () => {
    expect(warningsFor(model("https://llm.corp.internal/v1"))[0]?.message).toMatch(
      /llm\.corp\.internal is a private name/,
    );
    expect(warningsFor(model("https://llm.corp.internal/v1", [{ cidr: "10.0.0.0/8", ports: [443] }]))).toEqual([]);
  });

  it("ollama without a base URL: its default is the agent's own pod on a cluster", () => {
    expect(warningsFor(model(undefined, [], "ollama/llama3"))).toEqual([
      {
        path: "instances.ops.provider.baseUrl",
        message: expect.stringMatching(/http:\/\/127\.0\.0\.1:11434\/v1.*the function's own pod/),
      },
    ]);
  });

  it("a chat platform's API base URL the adapter's policy does not declare", () => {
    const slack =
      (settings: Record<string, string>, egress: unknown[] = []): Edit =>
      (c) => {
        c.channels = {
          slack: {
            secrets: { signingSecret: { secret: "s", key: "a" }, botToken: { secret: "s", key: "b" } },
            settings,
            defaultInstance: "ops",
            egress,
          },
        };
      };
    expect(warningsFor(slack({}))).toEqual([]);
    expect(warningsFor(slack({ slackApiBaseUrl: "https://slack.com/api" }))).toEqual([]);
    const proxy = "https://slack-proxy.example.com/api";
    expect(warningsFor(slack({ slackApiBaseUrl: proxy }))).toEqual([
      {
        path: "channels.slack.settings.slackApiBaseUrl",
        message: expect.stringMatching(
          /^channel-slack calls the slack API at https:\/\/slack-proxy\.example\.com\/api, but slack-proxy\.example\.com is not among the hosts .*files\.slack\.com, slack\.com/,
        ),
      },
    ]);
    expect(warningsFor(slack({ slackApiBaseUrl: proxy }, [{ host: "slack-proxy.example.com", ports: [443] }]))).toEqual(
      [],
    );
  });

  it("an external skill in the platform namespace, where the default-deny takes all its egress", () => {
    const external =
      (url: string): Edit =>
      (c) => {
        c.skills.search = {
          external: { url, tools: [{ name: "find", description: "find", parameters: { type: "object" } }] },
        };
      };
    expect(warningsFor(external("http://search.knclaw.svc.cluster.local/"))).toEqual([
      { path: "skills.search.external.url", message: expect.stringMatching(/knclaw-default-deny-egress denies/) },
    ]);
    expect(warningsFor(external("http://search.tools.svc.cluster.local/"))).toEqual([]);
    expect(warningsFor(external("https://search.example.com/knclaw"))).toEqual([]);
  });

  it("is part of what knclaw validate prints: a warning, not an error", () => {
    const value = minimalConfig() as Record<string, any>;
    model("http://vllm.models.svc.cluster.local:8000/v1")(value);
    const file = join(mkdtempSync(join(tmpdir(), "knclaw-egress-")), "knclaw.yaml");
    writeFileSync(file, stringify(value));
    const report = runValidate({ config: file });
    expect(report.ok).toBe(true);
    expect(formatValidateReport(report, file)).toMatch(
      /warning: .*instances\.ops\.provider\.baseUrl: egress-reach: agent-ops calls its openai-compatible model/,
    );
    expect(runValidate({ config: file, strict: true }).ok).toBe(false);
  });

  it("says nothing when the config renders no egress policies", () => {
    expect(
      warningsFor((c) => {
        model("http://vllm.models.svc.cluster.local:8000/v1")(c);
        c.network = { egressPolicies: false };
      }),
    ).toEqual([]);
  });
});
