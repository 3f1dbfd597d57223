import { describe, expect, it } from "vitest";
import { EXT_INSTANCE, EXT_TARGET } from "../../../eventing/catalog/attributes.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { loadAgentConfig } from "../../../functions/agent/config.ts";
import { createSkillResolver } from "../../../functions/agent/skills.ts";
import { validateConfigValue } from "../../../knative/config/load.ts";
import { render } from "../../../knative/render/index.ts";
import { EnvError } from "../../../runtime/env-contract.ts";
import { platformWith } from "./fixtures.ts";

const base = { KNCLAW_INSTANCE: "ops", KNCLAW_MODEL: "openai/gpt-4o" };

describe("agent configuration from the environment", () => {
  it("reads the policy (ignoring its description), settings, schedules and external tools", async () => {
    const config = await loadAgentConfig({
      ...base,
      KNCLAW_POLICY_NAME: "strict",
      KNCLAW_POLICY: JSON.stringify({ description: "d", tools: { deny: ["x.*"] }, budgets: { tokens: 10 } }),
      KNCLAW_AGENT: JSON.stringify({
        systemPrompt: "Be terse.",
        session: { scope: "thread" },
        prices: { "openai/gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10 } },
      }),
      KNCLAW_SCHEDULES: JSON.stringify({ nightly: { task: "check", concurrencyPolicy: "Replace" } }),
      KNCLAW_SKILLS: JSON.stringify(["payments"]),
      KNCLAW_EXTERNAL_TOOLS: JSON.stringify({
        payments: [
          { name: "refund", description: "Refund", parameters: { type: "object" }, mutates: true },
          { name: "lookup", description: "Look up", parameters: { type: "object" } },
        ],
      }),
    });
    expect(config.policyName).toBe("strict");
    expect(config.policy).toEqual({ tools: { deny: ["x.*"] }, budgets: { tokens: 10 } });
    expect(config.settings).toMatchObject({
      systemPrompt: "Be terse.",
      session: { scope: "thread" },
      maxOutputTokens: 4096,
    });
    expect(config.settings.prices["openai/gpt-4o"]).toEqual({ inputPerMTok: 2.5, outputPerMTok: 10 });
    expect(config.schedules.nightly).toMatchObject({ task: "check", concurrencyPolicy: "Replace" });
    // A mutating external tool needs approval unless configured otherwise.
    expect(config.skills[0]!.tools.map((t) => [t.name, t.approval])).toEqual([
      ["refund", true],
      ["lookup", false],
    ]);
  });

  it("describes built-in skills from their folders, and reports one that does not exist instead of failing", async () => {
    const config = await loadAgentConfig(
      { ...base, KNCLAW_SKILLS: JSON.stringify(["http", "no-such-skill"]) },
      createSkillResolver([]),
    );
    expect(config.skills.map((s) => s.name)).toEqual(["http"]);
    expect(config.skills[0]!.tools.length).toBeGreaterThan(0);
    expect(config.unavailableSkills).toEqual([{ skill: "no-such-skill", reason: expect.any(String) }]);
  });

  it.each([
    [{ KNCLAW_INSTANCE: "Not_A_Label" }, /KNCLAW_INSTANCE/],
    [{ ...base, KNCLAW_MODEL: "gpt-4o" }, /provider\/model/],
    [{ ...base, KNCLAW_POLICY: "{not json" }, /KNCLAW_POLICY is not valid JSON/],
    [{ ...base, KNCLAW_POLICY: JSON.stringify({ tools: { allow: "all" } }) }, /KNCLAW_POLICY: tools.allow/],
    [{ ...base, KNCLAW_AGENT: JSON.stringify({ unknown: 1 }) }, /KNCLAW_AGENT/],
    [{ ...base, KNCLAW_SKILL_CATALOG: JSON.stringify([{ name: "x", tools: [] }]) }, /KNCLAW_SKILL_CATALOG/],
  ])("refuses a bad environment with a clear error (%#)", async (env, message) => {
    await expect(loadAgentConfig(env)).rejects.toThrow(EnvError);
    await expect(loadAgentConfig(env)).rejects.toThrow(message);
  });
});

describe("instances in knclaw.yaml", () => {
  const platform = (instance: Record<string, unknown>) => platformWith(instance);

  it("renders the agent settings as KNCLAW_AGENT, no tick for an instance without schedules, and its timer Trigger", () => {
    const objects = render(
      validateConfigValue(platform({ agent: { systemPrompt: "You run ops.", session: { scope: "sender" } } })),
    );
    const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "agent-ops") as unknown as {
      spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
    };
    const env = service.spec.template.spec.containers[0]!.env;
    const settings = JSON.parse(env.find((e) => e.name === "KNCLAW_AGENT")!.value!);
    expect(settings).toMatchObject({
      systemPrompt: "You run ops.",
      session: { scope: "sender" },
      heartbeat: { okToken: "HEARTBEAT_OK" },
    });
    // Deadlines are due-time timers in the memory service: nothing wakes an idle instance on a schedule.
    expect(objects.filter((o) => o.kind === "PingSource")).toEqual([]);
    const timers = objects.find(
      (o) => o.kind === "Trigger" && o.metadata.name === "agent-ops-timer-fired",
    ) as unknown as {
      spec: { filter: { attributes: Record<string, string> } };
    };
    expect(timers.spec.filter.attributes).toEqual({
      type: T.TIMER_FIRED,
      [EXT_INSTANCE]: "ops",
      [EXT_TARGET]: "agent",
    });
  });

  it("renders no KNCLAW_AGENT when the instance keeps the defaults", () => {
    const objects = render(validateConfigValue(platform({})));
    expect(JSON.stringify(objects)).not.toContain('"KNCLAW_AGENT"');
  });

  it("refuses invalid agent settings and reserved schedule names", () => {
    expect(() => validateConfigValue(platform({ agent: { session: { scope: "galaxy" } } }))).toThrow(
      /instances\.ops\.agent\.session\.scope/,
    );
    expect(() => validateConfigValue(platform({ agent: { maxOutputTokens: -1 } }))).toThrow(/maxOutputTokens/);
    expect(() =>
      validateConfigValue(platform({ schedules: [{ name: "knclaw-sweep", schedule: "* * * * *", task: "x" }] })),
    ).toThrow(/reserved/);
  });
});
