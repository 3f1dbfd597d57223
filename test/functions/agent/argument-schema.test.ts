import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { EffectiveContract } from "../../../functions/agent/policy/contract.ts";
import { gateCall } from "../../../functions/agent/policy/gate.ts";
import { compileArguments } from "../../../functions/agent/tools/argument-schema.ts";
import { ToolCatalog } from "../../../functions/agent/tools/catalog.ts";
import { builtinSkillsDir, loadSkillFolder } from "../../../skills/package/loader.ts";
import { skillDescriptor } from "../../../skills/package/skill-package.ts";
import { layers } from "./fixtures.ts";
import { startAgent } from "./support/start-agent.ts";

/** Schemas of the kinds MCP servers publish, several of which zod's JSON Schema reader cannot take. */
const SCHEMAS = {
  refs: {
    type: "object",
    $defs: { namespace: { type: "string", pattern: "^[a-z0-9-]+$" }, labels: { $ref: "#/$defs/labelMap" } },
    properties: { namespace: { $ref: "#/$defs/namespace" }, selector: { $ref: "#/$defs/labels" } },
    required: ["namespace"],
  },
  discriminated: {
    type: "object",
    properties: {
      target: {
        oneOf: [
          {
            type: "object",
            properties: { kind: { const: "pod" }, name: { type: "string" } },
            required: ["kind", "name"],
            additionalProperties: false,
          },
          {
            type: "object",
            properties: { kind: { const: "node" }, id: { type: "integer", minimum: 0 } },
            required: ["kind", "id"],
            additionalProperties: false,
          },
        ],
        discriminator: { propertyName: "kind" },
      },
    },
    required: ["target"],
  },
  headers: {
    type: "object",
    patternProperties: { "^x-[a-z-]+$": { type: "string", maxLength: 64 } },
    additionalProperties: false,
  },
  dependent: {
    type: "object",
    properties: { creditCard: { type: "string" }, billingAddress: { type: "string" } },
    dependentRequired: { creditCard: ["billingAddress"] },
  },
  formats: {
    type: "object",
    properties: {
      when: { type: "string", format: "date-time" },
      mail: { type: "string", format: "email" },
      site: { type: "string", format: "uri" },
      id: { type: "string", format: "uuid" },
      color: { type: "string", format: "x-vendor-color" },
    },
  },
  draft07: {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    definitions: { path: { type: "string", minLength: 1 } },
    properties: { path: { $ref: "#/definitions/path" }, mode: { enum: ["read", "write"] } },
    required: ["path"],
    additionalProperties: false,
  },
  unevaluated: {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties: { a: { type: "string" } },
    allOf: [{ properties: { b: { type: "number" } } }],
    unevaluatedProperties: false,
  },
} satisfies Record<string, Record<string, unknown>>;
// labelMap completes the refs schema through a second $ref.
(SCHEMAS.refs.$defs as Record<string, unknown>).labelMap = {
  type: "object",
  additionalProperties: { type: "string" },
};

const check = (schema: Record<string, unknown>, args: unknown) => {
  const compiled = compileArguments(schema);
  if (!compiled.ok) throw new Error(compiled.reason);
  return compiled.check(args);
};

describe("argument schemas (Ajv)", () => {
  it.each([
    ["refs", { namespace: "default", selector: { app: "web" } }, { namespace: "Not Valid" }, "namespace"],
    ["refs", { namespace: "a" }, { namespace: "a", selector: { app: 1 } }, "selector.app"],
    ["discriminated", { target: { kind: "pod", name: "web" } }, { target: { kind: "pod", id: 3 } }, "target"],
    ["discriminated", { target: { kind: "node", id: 0 } }, { target: { kind: "node", id: -1 } }, "target.id"],
    ["headers", { "x-trace": "abc" }, { "x-trace": 5 }, "x-trace"],
    ["headers", {}, { authorization: "secret" }, "authorization"],
    ["dependent", { creditCard: "4111", billingAddress: "here" }, { creditCard: "4111" }, "billingAddress"],
    ["formats", { when: "2026-12-07T08:00:00Z", mail: "a@b.example" }, { when: "tomorrow" }, "when"],
    [
      "formats",
      { site: "https://example.com/x", id: "5f0c0a4e-1b7a-4c1e-9a57-0c6d2b8e4f11" },
      { mail: "nope" },
      "mail",
    ],
    ["formats", { color: "anything" }, { id: "not-a-uuid" }, "id"],
    ["draft07", { path: "/tmp", mode: "read" }, { path: "/tmp", mode: "append" }, "mode"],
    ["draft07", { path: "/tmp" }, { path: "/tmp", extra: true }, "extra"],
    ["unevaluated", { a: "x", b: 1 }, { a: "x", c: 1 }, "c"],
  ] as const)("%s: accepts good arguments and refuses bad ones at the offending path", (name, good, bad, path) => {
    const schema = SCHEMAS[name] as Record<string, unknown>;
    expect(check(schema, good)).toBeUndefined();
    const issues = check(schema, bad);
    expect(issues).toBeDefined();
    expect(issues!.map((issue) => issue.path)).toContain(path);
    for (const issue of issues!) expect(issue.message).not.toBe("");
  });

  it("reports every issue with the validator's message, and the allowed values of an enum", () => {
    const issues = check(SCHEMAS.draft07, { mode: "append", extra: 1 });
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: "path", message: "must have required property 'path'" },
        { path: "extra", message: "must NOT have additional properties" },
        { path: "mode", message: 'must be equal to one of the allowed values: "read", "write"' },
      ]),
    );
  });

  it("compiles each schema object once", () => {
    const schema = { type: "object", properties: { a: { type: "string" } } };
    expect(compileArguments(schema)).toBe(compileArguments(schema));
  });

  it("lets independent schemas share an $id", () => {
    const first = { $id: "https://tools.example/args", type: "object", required: ["a"] };
    const second = { $id: "https://tools.example/args", type: "object", required: ["b"] };
    expect(check(first, { a: 1 })).toBeUndefined();
    expect(check(second, { a: 1 })).toEqual([{ path: "b", message: "must have required property 'b'" }]);
  });

  it.each([
    [{ type: "object", properties: { a: { $ref: "#/$defs/missing" } } }, /does not compile: .*missing/],
    [{ type: "object", properties: { a: { $ref: "https://elsewhere.example/schema.json" } } }, /does not compile/],
    [{ type: "object", properties: { a: { type: "strnig" } } }, /does not compile/],
    [{ type: "object", properties: { a: { minLength: "three" } } }, /does not compile/],
    [{ type: "object", properties: { a: { pattern: "([a-z" } } }, /does not compile/],
    [{ $schema: "http://json-schema.org/draft-04/schema#", type: "object" }, /unsupported JSON Schema dialect/],
    [{ $schema: 7, type: "object" }, /unsupported JSON Schema dialect/],
  ])("reports a schema it cannot compile instead of skipping validation (%#)", (schema, reason) => {
    const compiled = compileArguments(schema);
    expect(compiled.ok).toBe(false);
    expect(compiled.ok ? "" : compiled.reason).toMatch(reason);
  });

  it("compiles the JSON Schema of every built-in skill's tools", async () => {
    for (const name of ["http", "kubernetes", "memory", "time"]) {
      const descriptor = skillDescriptor(await loadSkillFolder(`${builtinSkillsDir()}/${name}`));
      const catalog = new ToolCatalog([descriptor]);
      expect(catalog.withheld).toEqual([]);
      expect(catalog.tools.length).toBe(descriptor.tools.length);
    }
  });
});

const tool = (name: string, inputSchema: Record<string, unknown>) => ({
  name,
  description: name,
  inputSchema,
  mutates: false,
  approval: false,
  groups: [],
});

const mcpSkill = {
  name: "everything",
  tools: [
    tool("schedule", SCHEMAS.formats),
    tool("pay", SCHEMAS.dependent),
    tool("pick", SCHEMAS.discriminated),
    tool("broken", { type: "object", properties: { a: { $ref: "#/$defs/nowhere" } } }),
  ],
};

describe("the gate with published schemas", () => {
  const catalog = new ToolCatalog([mcpSkill]);
  const contract = new EffectiveContract(layers({}));
  const call = (name: string, args: unknown) => ({ id: "c1", name, arguments: JSON.stringify(args) });

  it("allows good arguments", () => {
    expect(gateCall(call("everything__schedule", { when: "2026-12-07T08:00:00Z" }), catalog, contract).kind).toBe(
      "allow",
    );
    expect(gateCall(call("everything__pick", { target: { kind: "node", id: 2 } }), catalog, contract).kind).toBe(
      "allow",
    );
  });

  it("refuses bad arguments as ValidationFailed with the validator's messages", () => {
    expect(gateCall(call("everything__pay", { creditCard: "4111" }), catalog, contract)).toEqual({
      kind: "refuse",
      tool: catalog.byModel("everything__pay"),
      error: {
        class: "ValidationFailed",
        retryable: false,
        message:
          "invalid arguments for everything.pay: billingAddress: must have property billingAddress when property creditCard is present",
        details: {
          issues: [
            {
              path: "billingAddress",
              message: "must have property billingAddress when property creditCard is present",
            },
          ],
        },
      },
    });
    expect(gateCall(call("everything__schedule", { when: "soon", mail: "x" }), catalog, contract)).toMatchObject({
      kind: "refuse",
      error: {
        class: "ValidationFailed",
        message: expect.stringMatching(/when: must match format "date-time"; mail: must match format "email"/),
      },
    });
  });

  it("withholds a tool whose schema does not compile: not offered, and Unavailable when called", () => {
    expect(catalog.withheld).toEqual([
      { modelName: "everything__broken", ref: "everything.broken", reason: expect.stringMatching(/nowhere/) },
    ]);
    expect(catalog.modelTools().map((t) => t.name)).not.toContain("everything__broken");
    expect(gateCall(call("everything__broken", { a: 1 }), catalog, contract)).toMatchObject({
      kind: "refuse",
      error: {
        class: "Unavailable",
        retryable: false,
        message: expect.stringMatching(/^everything\.broken is unavailable/),
      },
    });
  });

  const withheldLine = expect.objectContaining({
    tool: "everything.broken",
    reason: expect.stringMatching(/does not compile/),
    msg: expect.stringMatching(/not offered/),
  });

  it("logs each withheld tool with its reason when the catalog is built, at the first delivery (not at start)", async () => {
    const { app, lines } = await startAgent({
      KNCLAW_SKILL_CATALOG: JSON.stringify([mcpSkill]),
      KNCLAW_SKILLS: JSON.stringify(["everything"]),
    });
    // Compiling the schemas is left out of the cold start: nothing is compiled or logged before work arrives.
    expect(lines).not.toContainEqual(withheldLine);
    await app.fetch(pingDelivery("tick-0"));
    expect(lines).toContainEqual(withheldLine);
  });

  it("logs a withheld tool of a skill that describes itself at run time (an MCP server) when it is read", async () => {
    const skill = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(mcpSkill));
    });
    await new Promise<void>((resolve) => skill.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(skill.address() as AddressInfo).port}`;
      const { app, lines } = await startAgent({
        KNCLAW_SKILLS: JSON.stringify(["everything"]),
        KNCLAW_SKILL_ENDPOINTS: JSON.stringify({ everything: url }),
      });
      expect(lines).not.toContainEqual(withheldLine);
      // Any delivery makes the agent read the skill's descriptor before its step.
      await app.fetch(pingDelivery("tick-1"));
      expect(lines).toContainEqual(withheldLine);
    } finally {
      skill.close();
    }
  });
});

/** A PingSource delivery: any delivery makes the agent build its catalog and read run-time described skills. */
function pingDelivery(id: string): Request {
  return new Request("http://agent/", {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/ping",
      "ce-type": "dev.knative.sources.ping",
      "content-type": "application/json",
    },
    body: "{}",
  });
}
