import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { ApiError, errorResponse } from "../../runtime/api-error.ts";
import {
  type BearerEnv,
  bearer,
  MAX_BEARER_TOKEN_LENGTH,
  namedTokens,
  parseBearer,
  refuseCredentialsInUrl,
} from "../../runtime/bearer.ts";

const TOKEN = "abc-DEF_123.~+/xyz==";

describe("parseBearer (RFC 6750 §2.1)", () => {
  it("takes one token68 after a case-insensitive scheme and exactly one space", () => {
    expect(parseBearer(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(parseBearer(`bearer ${TOKEN}`)).toBe(TOKEN);
    expect(parseBearer(`BEARER ${TOKEN}`)).toBe(TOKEN);
    expect(parseBearer("Bearer x")).toBe("x");
  });

  it.each([
    ["missing", undefined],
    ["null", null],
    ["empty", ""],
    ["the scheme alone", "Bearer"],
    ["the scheme and a space", "Bearer "],
    ["another scheme", `Basic ${TOKEN}`],
    ["a scheme that only starts like it", `Bearerx ${TOKEN}`],
    ["no space", `Bearer${TOKEN}`],
    ["two spaces", `Bearer  ${TOKEN}`],
    ["a tab", `Bearer\t${TOKEN}`],
    ["leading space", ` Bearer ${TOKEN}`],
    ["trailing space", `Bearer ${TOKEN} `],
    ["two tokens", `Bearer ${TOKEN} ${TOKEN}`],
    ["a comma-separated second credential", `Bearer ${TOKEN}, Basic abc`],
    ["a quote", 'Bearer "abc"'],
    ["a colon", "Bearer abc:def"],
    ["a non-ASCII letter", "Bearer abcé"],
    ["padding in the middle", "Bearer ab=cd"],
    ["only padding", "Bearer =="],
    ["oversized", `Bearer ${"a".repeat(MAX_BEARER_TOKEN_LENGTH + 1)}`],
    ["oversized by its padding", `Bearer ${"a".repeat(MAX_BEARER_TOKEN_LENGTH)}=`],
  ])("refuses %s", (_name, header) => {
    expect(parseBearer(header)).toBeUndefined();
  });

  it("takes a token of the largest length", () => {
    const longest = "a".repeat(MAX_BEARER_TOKEN_LENGTH);
    expect(parseBearer(`Bearer ${longest}`)).toBe(longest);
  });
});

/** A route behind the middleware, answering with the principal; errors answered the runtime's way. */
function guarded(verify: (token: string) => string | undefined, realm?: string) {
  const app = new Hono<BearerEnv<string>>();
  app.use("*", refuseCredentialsInUrl());
  app.use("*", bearer({ verify, ...(realm === undefined ? {} : { realm }) }));
  app.get("/who", (c) => c.json({ principal: c.get("principal") }));
  app.onError((error) => (error instanceof ApiError ? errorResponse(error) : new Response("boom", { status: 500 })));
  return (headers: Record<string, string> = {}, path = "/who") => app.request(path, { headers });
}

describe("bearer middleware", () => {
  const tokens = namedTokens(
    new Map([
      ["admin", "admin-token-0123456789"],
      ["ci", "ci-token-0123456789abc"],
    ]),
  );

  it("puts the verified token's principal on the context", async () => {
    const call = guarded(tokens);
    const admin = await call({ authorization: "Bearer admin-token-0123456789" });
    expect(admin.status).toBe(200);
    expect(await admin.json()).toEqual({ principal: "admin" });
    expect(await (await call({ authorization: "bearer ci-token-0123456789abc" })).json()).toEqual({ principal: "ci" });
  });

  it("answers 401 with a Bearer challenge, without echoing the token", async () => {
    const call = guarded(tokens);
    for (const [authorization, message] of [
      [undefined, "a bearer token is required"],
      ["Basic YTpi", "a bearer token is required"],
      ["Bearer  admin-token-0123456789", "a bearer token is required"],
      ["Bearer admin-token-0123456789 x", "a bearer token is required"],
      ["Bearer admin-token-012345678", "the bearer token is not valid"],
      ["Bearer admin-token-0123456789x", "the bearer token is not valid"],
    ] as const) {
      const response = await call(authorization === undefined ? {} : { authorization });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
      const text = await response.text();
      expect(text).not.toContain("admin-token");
      expect(JSON.parse(text)).toEqual({ error: { code: "unauthorized", message } });
    }
  });

  it("names the realm in the challenge when given one", async () => {
    const response = await guarded(tokens, "knclaw-test")();
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="knclaw-test"');
  });

  it("never hands a malformed header to the verifier", async () => {
    const seen: string[] = [];
    const call = guarded((token) => {
      seen.push(token);
      return undefined;
    });
    await call({ authorization: "Bearer a b" });
    await call({ authorization: `Bearer ${"a".repeat(MAX_BEARER_TOKEN_LENGTH + 1)}` });
    await call({ authorization: "Bearer ok" });
    expect(seen).toEqual(["ok"]);
  });

  it("refuses a credential in the URL with 400, even beside a valid header", async () => {
    const call = guarded(tokens);
    for (const name of ["access_token", "token", "api_key", "apikey", "key", "auth"]) {
      const response = await call({ authorization: "Bearer admin-token-0123456789" }, `/who?${name}=x`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("credentials_in_url");
    }
    expect((await call({ authorization: "Bearer admin-token-0123456789" }, "/who?page=2")).status).toBe(200);
  });
});

describe("namedTokens", () => {
  it("answers the name of the matching token, and nothing for near misses", () => {
    const verify = namedTokens(new Map([["one", "token-one"]]));
    expect(verify("token-one")).toBe("one");
    expect(verify("token-on")).toBeUndefined();
    expect(verify("token-one ")).toBeUndefined();
    expect(verify("")).toBeUndefined();
    expect(namedTokens(new Map())("token-one")).toBeUndefined();
  });
});
