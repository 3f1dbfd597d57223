import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvent } from "../../../../eventing/catalog/make.ts";
import * as T from "../../../../eventing/catalog/types.ts";
import { ConsoleSessions, SESSION_SECONDS, sessionIdFrom } from "../../../../functions/gateway/console/session.ts";
import { approvalRequested, auth, type GatewayHarness, OTHER_TOKEN, startGateway, TOKEN } from "../support/harness.ts";

/** The console's sign-in, session cookie and CSRF rules, against a gateway on a real memory service. */
let gateway: GatewayHarness;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.stop();
});

const page = { accept: "text/html" };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = (extra: Record<string, string> = {}) => ({
  "content-type": "application/x-www-form-urlencoded",
  origin: gateway.url,
  ...extra,
});

async function signIn(
  extra: Record<string, string> = {},
  token = TOKEN,
): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const response = await fetch(`${gateway.url}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: formHeaders(extra),
    body: form({ token }),
  });
  expect(response.status).toBe(303);
  const setCookie = response.headers.get("set-cookie")!;
  const cookie = setCookie.split(";")[0]!;
  const runs = await fetch(`${gateway.url}/console/runs`, { headers: { ...page, cookie } });
  expect(runs.status).toBe(200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await runs.text())![1]!;
  return { cookie, csrf, setCookie };
}

describe("console sign-in", () => {
  it("enters at GET / and sends a visitor without a session to the sign-in form", async () => {
    const root = await fetch(`${gateway.url}/`, { redirect: "manual", headers: page });
    expect(root.status).toBe(303);
    expect(new URL(root.headers.get("location")!, gateway.url).pathname).toBe("/console/runs");
    const runs = await fetch(`${gateway.url}/console/runs`, { redirect: "manual", headers: page });
    expect(runs.status).toBe(303);
    expect(runs.headers.get("location")).toBe("/console/login");
    const login = await fetch(`${gateway.url}/console/login`);
    expect(login.status).toBe(200);
    expect(login.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await login.text()).toContain('type="password"');
  });

  it("limits sign-in attempts per client: a guesser gets 429 with Retry-After, other clients still sign in", async () => {
    const guesser = formHeaders({ "x-forwarded-for": "203.0.113.7, 10.0.0.1" });
    const attempt = () =>
      fetch(`${gateway.url}/console/login`, {
        method: "POST",
        redirect: "manual",
        headers: guesser,
        body: form({ token: "not-the-token-at-all" }),
      });
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await attempt()).status);
    expect(statuses.slice(0, 20).every((status) => status === 401)).toBe(true);
    expect(statuses[20]).toBe(429);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another client is not affected.
    await signIn({ "x-forwarded-for": "198.51.100.2" });
  });

  it("answers 401 without a session to what is not a page (live streams, actions)", async () => {
    expect((await fetch(`${gateway.url}/console/runs/stream`)).status).toBe(401);
    const post = await fetch(`${gateway.url}/console/approvals/ap-x`, {
      method: "POST",
      headers: formHeaders(),
      body: form({ decision: "approve", csrf: "x" }),
    });
    expect(post.status).toBe(401);
  });

  it("refuses a token in the URL, on the sign-in form as everywhere in the console", async () => {
    for (const path of [`/console/login?token=${TOKEN}`, `/console/runs?access_token=${TOKEN}`]) {
      const response = await fetch(`${gateway.url}${path}`, { method: path.includes("login") ? "POST" : "GET" });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("credentials_in_url");
    }
  });

  it("refuses a wrong token and a cross-origin sign-in", async () => {
    const wrong = await fetch(`${gateway.url}/console/login`, {
      method: "POST",
      headers: formHeaders(),
      body: form({ token: "not-a-configured-token-000000" }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const foreign = await fetch(`${gateway.url}/console/login`, {
      method: "POST",
      headers: formHeaders({ origin: "https://evil.example" }),
      body: form({ token: TOKEN }),
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("set-cookie")).toBeNull();
  });

  it("sets an opaque HttpOnly SameSite=Strict cookie, Secure with the __Host- prefix over https", async () => {
    const plain = await signIn();
    expect(plain.setCookie).toMatch(
      /^knclaw_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    expect(plain.setCookie).not.toContain(TOKEN);
    const response = await fetch(`${gateway.url}/console/login`, {
      method: "POST",
      redirect: "manual",
      headers: formHeaders({ "x-forwarded-proto": "https", origin: gateway.url.replace("http:", "https:") }),
      body: form({ token: TOKEN }),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).toMatch(
      /^__Host-knclaw_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/,
    );
  });
});

describe("console CSRF", () => {
  it("refuses state changes with a forged, missing or cross-origin CSRF token (403), then signs out with the real one", async () => {
    const { cookie, csrf } = await signIn();
    const logout = (fields: Record<string, string>, extra: Record<string, string> = {}) =>
      fetch(`${gateway.url}/console/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { ...formHeaders(extra), cookie },
        body: form(fields),
      });
    expect((await logout({})).status).toBe(403);
    // One character changed (never to itself: a token ending in "A" would otherwise be "forged" into the real one).
    const forged = `${csrf.slice(0, -1)}${csrf.endsWith("A") ? "B" : "A"}`;
    expect((await logout({ csrf: forged })).status).toBe(403);
    expect((await logout({ csrf }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await logout({ csrf }, { origin: "", "sec-fetch-site": "cross-site" })).status).toBe(403);
    const approve = await fetch(`${gateway.url}/console/approvals/ap-1`, {
      method: "POST",
      headers: { ...formHeaders(), cookie },
      body: form({ decision: "approve", csrf: "forged" }),
    });
    expect(approve.status).toBe(403);

    const out = await logout({ csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    const after = await fetch(`${gateway.url}/console/runs`, { redirect: "manual", headers: { ...page, cookie } });
    expect(after.status).toBe(303);
  });

  it("takes the CSRF token from the X-CSRF-Token header too", async () => {
    const { cookie, csrf } = await signIn();
    const out = await fetch(`${gateway.url}/console/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: gateway.url, cookie, "x-csrf-token": csrf },
    });
    expect(out.status).toBe(303);
  });
});

describe("console approvals", () => {
  it("decide as the signed-in token through the API's own rules: not an approver 403, unknown 404, expired 410", async () => {
    const started = await fetch(`${gateway.url}/api/v1/instances/ops/runs`, {
      method: "POST",
      headers: auth(),
      body: JSON.stringify({ task: "delete" }),
    });
    const { runId } = (await started.json()) as { runId: string };
    await gateway.deliver(approvalRequested(runId, "ops", "ap-console"));
    await gateway.deliver(approvalRequested(runId, "ops", "ap-console-old", -1000));
    const session = async (token: string) => {
      const { cookie, csrf } = await signIn({}, token);
      return (id: string, decision: string) =>
        fetch(`${gateway.url}/console/approvals/${id}`, {
          method: "POST",
          redirect: "manual",
          headers: { ...formHeaders(), cookie },
          body: form({ decision, csrf, back: "/console/approvals" }),
        });
    };
    // The run was started by the admin token, its only approver: the ci token's session may not decide.
    const refused = await (await session(OTHER_TOKEN))("ap-console", "approve");
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("may not approve");
    const decisions = () =>
      gateway.broker.ofType(T.APPROVAL_DECIDED).map((event) => readEvent(event, T.APPROVAL_DECIDED));
    expect(decisions().filter((data) => data.approvalId === "ap-console")).toHaveLength(0);
    const decide = await session(TOKEN);
    const approved = await decide("ap-console", "approve");
    expect(approved.status).toBe(303);
    expect(approved.headers.get("location")).toBe("/console/approvals?notice=approved");
    const decided = decisions().find((data) => data.approvalId === "ap-console");
    expect(decided).toMatchObject({ runId, decision: "approve", decidedBy: { channel: "http", id: "admin" } });
    expect((await decide("ap-console-unknown", "approve")).status).toBe(404);
    expect((await decide("ap-console-old", "deny")).status).toBe(410);
    expect((await decide("ap-console", "maybe")).status).toBe(400);
  });
});

describe("console sessions", () => {
  it("keep only a hash of the id, and expire", async () => {
    const values = new Map<string, string>();
    const kv = {
      setIfAbsent: async () => true,
      get: async (key: string) => values.get(key),
      set: async (key: string, value: string) => {
        values.set(key, value);
      },
      delete: async (key: string) => {
        values.delete(key);
      },
    };
    let now = 1_000_000;
    const sessions = new ConsoleSessions(kv, () => now);
    const { id } = await sessions.open("admin");
    expect([...values.keys()].some((key) => key.includes(id))).toBe(false);
    expect((await sessions.find(id))?.tokenName).toBe("admin");
    now += SESSION_SECONDS * 1000;
    expect(await sessions.find(id)).toBeUndefined();
  });

  it("read the cookie by its exact name and shape only", () => {
    const id = "a".repeat(43);
    expect(sessionIdFrom(`other=1; knclaw_session=${id}`, false)).toBe(id);
    expect(sessionIdFrom(`knclaw_session=${id}`, true)).toBeUndefined();
    expect(sessionIdFrom(`__Host-knclaw_session=${id}`, true)).toBe(id);
    expect(sessionIdFrom("knclaw_session=short", false)).toBeUndefined();
  });
});
