import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  defineEnv,
  EnvError,
  envBoolean,
  envInteger,
  json,
  secret,
  secretFamily,
  text,
} from "../../runtime/env-contract.ts";

const contract = defineEnv({
  name: text("X_NAME", "a name"),
  prefix: text("X_PREFIX", "a prefix", z.string().default("p:"), { keepEmpty: true }),
  limit: text("X_LIMIT", "a limit", envInteger(1, 10).default(5)),
  verbose: text("X_VERBOSE", "chatty", envBoolean().default(false)),
  routes: json("X_ROUTES", "routes", z.array(z.strictObject({ to: z.string() })).default([])),
  token: secret("X_TOKEN", "a token", z.string().min(16, "must be at least 16 characters").optional()),
  key: secretFamily("X_KEY_", "<NAME>", "one key per name", z.string()),
});

describe("an env contract", () => {
  it("parses every variable to its typed value, with defaults for the unset and blank ones", () => {
    expect(contract.parse({ X_NAME: "n", X_LIMIT: "7", X_VERBOSE: "true", X_ROUTES: '[{"to":"a"}]' })).toEqual({
      name: "n",
      prefix: "p:",
      limit: 7,
      verbose: true,
      routes: [{ to: "a" }],
      token: undefined,
    });
    // Blank is unset, except where the contract says an empty value means something.
    expect(contract.parse({ X_NAME: "n", X_LIMIT: " ", X_PREFIX: "" })).toMatchObject({ limit: 5, prefix: "" });
  });

  it("names the variable at fault and never its value", () => {
    const secretValue = "short-secret";
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /^X_NAME is required: a name$/],
      [{ X_NAME: "n", X_LIMIT: "eleven" }, /^X_LIMIT: must be an integer between 1 and 10$/],
      [{ X_NAME: "n", X_VERBOSE: "yes" }, /^X_VERBOSE: must be true or false$/],
      [{ X_NAME: "n", X_ROUTES: `[{"to": 1, "note": "${secretValue}"}]` }, /^X_ROUTES: 0(\.to)?: /],
      [{ X_NAME: "n", X_ROUTES: `{not json ${secretValue}` }, /^X_ROUTES is not valid JSON$/],
      [{ X_NAME: "n", X_TOKEN: secretValue }, /^X_TOKEN: must be at least 16 characters$/],
    ];
    for (const [env, message] of cases) {
      const error = (() => {
        try {
          contract.parse(env);
        } catch (thrown) {
          return thrown as Error;
        }
        throw new Error("parsed");
      })();
      expect(error).toBeInstanceOf(EnvError);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain(secretValue);
    }
  });

  it("reads one variable or one member of a family", () => {
    expect(contract.read({ X_LIMIT: "3" }, "limit")).toBe(3);
    expect(contract.readFamily({ X_KEY_CI: "k" }, "key", "CI")).toBe("k");
    expect(() => contract.readFamily({}, "key", "CI")).toThrow(/^X_KEY_CI is required/);
    expect(contract.familyName("key", "CI")).toBe("X_KEY_CI");
  });

  it("renders values in declaration order: text as given, JSON with sorted keys, secrets as references", () => {
    expect(
      contract.render({
        token: { secret: "s", key: "k", optional: true },
        routes: [{ to: "a" }],
        name: "n",
        limit: 3,
        prefix: "",
        verbose: undefined,
      }),
    ).toEqual([
      { name: "X_NAME", value: "n" },
      { name: "X_PREFIX", value: "" },
      { name: "X_LIMIT", value: "3" },
      { name: "X_ROUTES", value: '[{"to":"a"}]' },
      { name: "X_TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "k", optional: true } } },
    ]);
    expect(contract.renderFamily("key", "CI", { secret: "s", key: "ci" })).toEqual({
      name: "X_KEY_CI",
      valueFrom: { secretKeyRef: { name: "s", key: "ci" } },
    });
  });

  it("describes each variable for the README: how it travels, whether it must be set, its default", () => {
    expect(contract.docs().map((doc) => [doc.variable, doc.presence, doc.secret, doc.json])).toEqual([
      ["X_NAME", "required", false, false],
      ["X_PREFIX", "default `p:`", false, false],
      ["X_LIMIT", "default `5`", false, false],
      ["X_VERBOSE", "default `false`", false, false],
      ["X_ROUTES", "default `[]`", false, true],
      ["X_TOKEN", "optional", true, false],
      ["X_KEY_<NAME>", "one per name in the config", true, false],
    ]);
  });
});
