import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSessionToken } from "../../../../cli/session-tokens.ts";
import { collectOutput, exited, inheritedEnv, spawnKnclaw, waitForOutput } from "../../../support/cli-process.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../../../support/otlp-receiver.ts";

/**
 * The operator console in a real browser: Debian's chromium driven by playwright-core, against `knclaw dev` on
 * loopback running test/functions/gateway/console/fixtures/knclaw.yaml (a demo agent whose policy holds every
 * time.now call for an approval), exporting its traces with `--otlp` to a local OTLP receiver so runs record a trace
 * id. Screenshots go to test-results/console/ (gitignored).
 */
const ROOT = new URL("../../../..", import.meta.url).pathname;
const FIXTURE = join(ROOT, "test/functions/gateway/console/fixtures/knclaw.yaml");
const SHOTS = join(ROOT, "test-results/console");
const TOKEN = "console-browser-test-token-0123456789";
const VIEWER_TOKEN = "console-browser-test-viewer-0123456789";
const DEADLETTER_TOKEN = "console-browser-test-dlq-0123456789";
const CHROMIUM = "/usr/bin/chromium";

let dev: ChildProcess;
let devOutput: { stdout: string; stderr: string };
let url: string;
let browser: Browser;
let otlp: OtlpReceiver;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  otlp = await startOtlpReceiver();
  dev = spawnKnclaw(
    ["dev", "-c", FIXTURE, "--port", "0", "--broker-store", "memory", "--log-level", "warn", "--otlp", otlp.url],
    inheritedEnv((name) => name.startsWith("KNCLAW_") || name.startsWith("OTEL_") || name === "PORT", {
      KNCLAW_GATEWAY_CLI_TOKEN: TOKEN,
      KNCLAW_GATEWAY_VIEWER_TOKEN: VIEWER_TOKEN,
      KNCLAW_DEADLETTER_API_TOKEN: DEADLETTER_TOKEN,
    }),
  );
  devOutput = collectOutput(dev);
  url = (await waitForOutput(dev, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  watch(page);
}, 120_000);

/** Every console error, failed request or 4xx/5xx answer of a page goes to `problems` (the last test asserts none). */
function watch(page: Page): void {
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning")
      problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400)
      problems.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  page.on("requestfailed", (request) => {
    // An EventSource closed by a navigation is the only request a page may abandon.
    if (!request.url().includes("/stream")) problems.push(`request failed: ${request.url()}`);
  });
}

async function signIn(on: Page, token: string): Promise<void> {
  await on.goto(`${url}/console/login`);
  await on.getByLabel("Gateway token").fill(token);
  await on.keyboard.press("Enter");
  await on.waitForURL(`${url}/console/runs`);
}

afterAll(async () => {
  await browser?.close();
  if (dev && dev.exitCode === null) {
    dev.kill("SIGTERM");
    await exited(dev);
  }
  await otlp?.close();
});

async function api(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return (await response.json()) as Record<string, unknown>;
}

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** What has focus after each Tab from the top of the page, until `wanted` is reached (or 40 presses). */
async function tabUntil(wanted: (label: string) => boolean): Promise<string[]> {
  const seen: string[] = [];
  await page.locator("body").focus();
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    // A string expression: this file is typed for Node, without the DOM library.
    const label = await page.evaluate<string>(`(() => {
      const element = document.activeElement;
      if (element === null) return "";
      const id = element.id ? "#" + element.id : "";
      return element.tagName.toLowerCase() + id + " " + (element.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 40);
    })()`);
    seen.push(label);
    if (wanted(label)) return seen;
  }
  return seen;
}

describe("operator console in Chromium", () => {
  it("signs in with a gateway token posted in a form, and is keyboard reachable", async () => {
    await page.goto(`${url}/`);
    expect(new URL(page.url()).pathname).toBe("/console/login");
    await shot("sign-in");
    await page.getByLabel("Gateway token").fill(TOKEN);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${url}/console/runs`);
    expect(page.url()).not.toContain(TOKEN);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Runs");
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === "knclaw_session")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });

    const order = await tabUntil((label) => label.startsWith("button") && label.includes("Filter"));
    expect(order[0]).toContain("Skip to content");
    for (const link of ["Runs", "Approvals", "Instances", "Dead letters", "Pairing", "Sign out"]) {
      expect(order.some((label) => label.includes(link))).toBe(true);
    }
    expect(order.some((label) => label.startsWith("select#filter-instance"))).toBe(true);
    expect(order.at(-1)).toContain("Filter");
  });

  it("shows a run appear and complete live, then its timeline", async () => {
    await page.goto(`${url}/console/runs`);
    const started = await api("/api/v1/instances/ops/runs", { task: "Say hello to the operators." });
    const runId = started.runId as string;
    const row = page.locator(`tr[data-run="${runId}"]`);
    await row.waitFor();
    await row.locator(".status-completed").waitFor();
    await shot("runs");

    await row.getByRole("link", { name: runId }).click();
    await page.waitForURL(`${url}/console/runs/${runId}`);
    const timeline = page.locator("#run-timeline");
    await expect.poll(() => timeline.locator(".outcome.completed").count()).toBe(1);
    const text = (await timeline.textContent()) ?? "";
    expect(text).toContain("Say hello to the operators.");
    expect(text).toMatch(/Turn 1 · .* in \/ \d+ out tokens · \$[\d.]+ · \d+ ms · stop/);
    // The run's trace id, as the spans every function exported carry it.
    const traceId = (await timeline.locator("code.trace").textContent()) ?? "";
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await expect
      .poll(() => new Set(otlp.spans.filter((span) => span.traceId === traceId).map((span) => span.service)).size, {
        timeout: 30_000,
        interval: 250,
      })
      .toBeGreaterThanOrEqual(2);
    await shot("timeline");
  });

  it("approves a held call from the inbox and the tool runs", async () => {
    const started = await api("/api/v1/instances/ops/runs", { task: "What time is it? Use now." });
    const runId = started.runId as string;
    await page.goto(`${url}/console/runs/${runId}`);
    await page.getByText("Held for approval").waitFor();
    await shot("held");

    // The inbox lists the call once the gateway has the approval request (it decides only approvals it was asked).
    await expect
      .poll(
        async () => {
          await page.goto(`${url}/console/approvals`);
          return page.getByRole("button", { name: "Approve" }).count();
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(1);
    expect(await page.locator(".approvals").textContent()).toContain(runId);
    await shot("approvals");

    // Another token sees the held call but no buttons: only the approvals' approvers (here the token that started the
    // run, http:cli) are offered Approve/Deny, as GET /api/v1/approvals/{id} says per caller.
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    watch(viewer);
    await signIn(viewer, VIEWER_TOKEN);
    await viewer.goto(`${url}/console/approvals`);
    const card = viewer.locator(".approvals li", { hasText: runId });
    const hint = (await card.locator(".not-approver").textContent()) ?? "";
    expect(hint).toContain("http:viewer");
    expect(hint).toContain("only its approvers (http:cli) can");
    expect(await viewer.getByRole("button", { name: "Approve" }).count()).toBe(0);
    await viewer.goto(`${url}/console/runs/${runId}`);
    await viewer.getByText("Held for approval").waitFor();
    expect(await viewer.getByRole("button", { name: "Approve" }).count()).toBe(0);
    await viewer.screenshot({ path: join(SHOTS, "approvals-not-approver.png"), fullPage: true });
    await viewer.close();
    await page.getByRole("button", { name: "Approve" }).focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/console\/approvals\?notice=approved$/);
    await page.getByRole("status").getByText("Approval sent").waitFor();

    await page.goto(`${url}/console/runs/${runId}`);
    const timeline = page.locator("#run-timeline");
    // The page follows the run from the version it showed: a run that finished between the page and its stream's
    // connect (which a loaded machine widens) once left it showing the running run for good (live.test.ts).
    await timeline.locator(".outcome.completed").waitFor({ timeout: 30_000 });
    const text = (await timeline.textContent()) ?? "";
    expect(text).toContain("Tool call time.now");
    expect(text).toContain("Result");
    expect(text).toContain("approval.granted");
    await shot("approved");
  }, 90_000);

  it("shows instances with their model, skills and budgets", async () => {
    await page.goto(`${url}/console/instances`);
    const card = page.locator("section.card", { hasText: "ops" });
    const text = (await card.textContent()) ?? "";
    expect(text).toContain("demo/echo");
    expect(text).toContain("time");
    expect(text).toContain("tokens per run: 100000");
    await shot("instances");
  });

  it("replays a dead letter", async () => {
    // A message.send the gateway cannot read (no data): 400, not retried, so the broker dead-letters it at once.
    // Sent as the operator, whose identity token `knclaw dev` keeps for its port (the broker authenticates senders).
    const operatorToken = readSessionToken("broker", url);
    expect(operatorToken).toBeDefined();
    const response = await fetch(`${url}/knclaw/default`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${operatorToken}`,
        "ce-specversion": "1.0",
        "ce-id": "console-dead-letter-1",
        "ce-source": "/tests/console",
        "ce-type": "dev.knclaw.message.send",
        "ce-knclawchannel": "http",
        "content-type": "application/json",
      },
      body: "{}",
    });
    expect(response.status).toBe(202);
    await expect
      .poll(
        async () => {
          await page.goto(`${url}/console/deadletters`);
          return page.getByRole("link", { name: "console-dead-letter-1" }).count();
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(1);
    await page.getByRole("link", { name: "console-dead-letter-1" }).click();
    await page.getByRole("heading", { name: "Error" }).waitFor();
    expect(await page.locator("main").textContent()).toContain("gateway");
    await shot("dead-letter");
    await page.getByRole("button", { name: "Replay" }).click();
    await page.waitForURL(/\/console\/deadletters\?notice=replayed$/);
    await page.getByRole("status").getByText("Dead letter replayed").waitFor();
    const row = page.locator("tr", { hasText: "console-dead-letter-1" });
    expect(await row.locator("td").nth(5).textContent()).toBe("1");
    await shot("dead-letters");
  });

  it("logged no console error on any page", () => {
    expect(problems, devOutput.stderr.slice(-2000)).toEqual([]);
  });
});
