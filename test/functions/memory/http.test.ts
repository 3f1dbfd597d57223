import { describe, expect, it } from "vitest";
import { ErrorBody } from "../../../clients/memory/contract/errors.ts";
import { mintMemoryToken } from "../../../clients/memory/tokens.ts";
import { freshInstance, instanceScope, TEST_LIMITS } from "./support/harness.ts";
import { useTarget } from "./support/suite.ts";
import { TARGETS } from "./support/targets.ts";

async function errorOf(response: Response) {
  return ErrorBody.parse(await response.json()).error;
}

describe.each(TARGETS)("HTTP surface on $name", (target) => {
  const suite = useTarget(target);

  it("answers probes without a token", async () => {
    const { h } = suite();
    expect((await h.raw("/healthz")).status).toBe(200);
    const ready = await h.raw("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      ready: true,
      backend: target.name.startsWith("embedded") ? "embedded" : "redis",
    });
    expect(await h.client({ kind: "gateway" }).ready()).toBe(true);
  });

  it("refuses requests without a valid bearer token with 401, never echoing the token", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const path = `/v1/instances/${instance}/sessions/main/messages`;
    const valid = h.token(instanceScope(instance));
    const forged = mintMemoryToken("another-secret-of-enough-length", instanceScope(instance));
    const [version, kind, , mac] = valid.split(".");
    const retargeted = [version, kind, "someone-else", mac].join(".");
    for (const authorization of [
      undefined,
      `Basic ${Buffer.from("a:b").toString("base64")}`,
      "Bearer",
      "Bearer not-a-token",
      `Bearer ${forged}`,
      `Bearer ${retargeted}`,
      `Bearer ${valid}x`,
      `bearer  ${valid}`,
    ]) {
      const response = await h.raw(path, authorization ? { headers: { authorization } } : {});
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const text = await response.text();
      expect(text).not.toContain(valid);
      expect(ErrorBody.parse(JSON.parse(text)).error.code).toBe("unauthorized");
    }
    // Tokens are read from the Authorization header only, never from the URL.
    expect(
      (await h.raw(`${path}?token=${encodeURIComponent(valid)}&access_token=${encodeURIComponent(valid)}`)).status,
    ).toBe(401);
    expect((await h.raw(path, { headers: { authorization: `Bearer ${valid}` } })).status).toBe(200);
    expect((await h.raw(path, { headers: { authorization: `bearer ${valid}` } })).status).toBe(200);
  });

  it("opens every instance to the configured operator token", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const operator = TEST_LIMITS.KNCLAW_MEMORY_OPERATOR_TOKEN;
    const ok = await h.raw(`/v1/instances/${instance}/runs`, { headers: { authorization: `Bearer ${operator}` } });
    expect(ok.status).toBe(200);
    const near = await h.raw(`/v1/instances/${instance}/runs`, { headers: { authorization: `Bearer ${operator}0` } });
    expect(near.status).toBe(401);
  });

  it("answers 403 for another instance's data and for operations outside a component's scope", async () => {
    const { h } = suite();
    const mine = freshInstance();
    const theirs = freshInstance();
    await h
      .client(instanceScope(theirs))
      .appendMessages(theirs, "main", { messages: [{ id: "1", role: "user", content: "secret" }] });
    const denied = await h.raw(`/v1/instances/${theirs}/sessions/main/messages`, { scope: instanceScope(mine) });
    expect(denied.status).toBe(403);
    const body = await denied.text();
    expect(body).not.toContain("secret");
    expect(ErrorBody.parse(JSON.parse(body)).error.code).toBe("forbidden");
    for (const kind of ["channel", "gateway", "notes"] as const) {
      const response = await h.raw(`/v1/instances/${theirs}/sessions/main/messages`, { scope: { kind } });
      expect(response.status).toBe(403);
    }
    const locks = await h.raw(`/v1/instances/${theirs}/locks/x`, { scope: { kind: "gateway" } });
    expect(locks.status).toBe(403);
  });

  it("validates bodies: media type, JSON, UTF-8, field paths and size", async () => {
    const { h } = suite();
    const instance = freshInstance();
    const scope = instanceScope(instance);
    const path = `/v1/instances/${instance}/runs`;
    const text = await h.raw(path, { method: "POST", scope, headers: { "content-type": "text/plain" }, body: "{}" });
    expect(text.status).toBe(415);
    const broken = await h.raw(path, {
      method: "POST",
      scope,
      headers: { "content-type": "application/json" },
      body: '{"id": "a",',
    });
    expect(broken.status).toBe(400);
    expect((await errorOf(broken)).code).toBe("invalid_json");
    const latin1 = await h.raw(path, {
      method: "POST",
      scope,
      headers: { "content-type": "application/json; charset=utf-8" },
      body: new Uint8Array([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]),
    });
    expect(latin1.status).toBe(400);
    const wrongShape = await h.raw(path, { method: "POST", scope, json: { state: [], retentionMs: -5 } });
    expect(wrongShape.status).toBe(400);
    const issues = (await errorOf(wrongShape)).issues?.map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(["state", "retentionMs"]));
    const big = JSON.stringify({ state: { blob: "x".repeat(70_000) } });
    const declared = await h.raw(path, {
      method: "POST",
      scope,
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).code).toBe("payload_too_large");
    // Without a Content-Length the limit is counted on the stream.
    const streamed = await h.raw(path, {
      method: "POST",
      scope,
      headers: { "content-type": "application/json" },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    const badInstance = await h.raw("/v1/instances/Not_A_Label/runs", { scope: { kind: "operator" } });
    expect(badInstance.status).toBe(400);
    expect((await errorOf(badInstance)).issues?.[0]?.path).toBe("params.instance");
  });

  it("answers unknown routes with a JSON 404", async () => {
    const { h } = suite();
    const response = await h.raw("/v1/nothing-here", { scope: { kind: "operator" } });
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe("not_found");
  });
});
