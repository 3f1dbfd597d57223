import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, startGateway, TOKEN } from "../support/harness.ts";

/**
 * A run's live timeline (GET /console/runs/{id}/stream) against a gateway on a real memory service: the stream starts
 * from the version the page showed, so a change between the page and the stream's connect is sent, not lost. (The
 * stream once took its starting version at connect: a run held or finished in that gap, which a loaded machine
 * widens, left the page showing the old state for good; the browser test's approval waited > 30 s for it.)
 */
let gateway: GatewayHarness;
let cookie: string;
beforeAll(async () => {
  gateway = await startGateway();
  const response = await fetch(`${gateway.url}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: gateway.url },
    body: new URLSearchParams({ token: TOKEN }).toString(),
  });
  expect(response.status).toBe(303);
  cookie = response.headers.get("set-cookie")!.split(";")[0]!;
});
afterAll(async () => {
  await gateway.stop();
});

/** The stream's events until it ends (a finished run) or `count` arrived. */
async function events(url: string, headers: Record<string, string>, count: number) {
  const response = await fetch(url, { headers: { cookie, ...headers } });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const parsed: Array<{ id?: string; event?: string; data: string }> = [];
  while (parsed.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end = text.indexOf("\n\n");
    while (end >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      end = text.indexOf("\n\n");
      if (block.startsWith(":")) continue;
      const event: { id?: string; event?: string; data: string } = { data: "" };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(": ");
        const [name, value] = [line.slice(0, colon), line.slice(colon + 2)];
        if (name === "id") event.id = value;
        else if (name === "event") event.event = value;
        else if (name === "data") event.data += value;
      }
      parsed.push(event);
    }
  }
  await reader.cancel();
  return parsed;
}

describe("a run's live timeline", () => {
  it("sends what changed since the version the page shows, and after a reconnect since the last event", async () => {
    const runId = "run-live-1";
    const created = await gateway.operator.createRun("ops", { id: runId, status: "running", state: {} });
    const page = await fetch(`${gateway.url}/console/runs/${runId}`, { headers: { cookie } });
    const shown = /data-stream="([^"]+)"/.exec(await page.text())![1]!.replaceAll("&amp;", "&");
    expect(shown).toBe(`/console/runs/${runId}/stream?version=${created.run.version}`);
    // The run finishes before the page's script connects.
    const finished = await gateway.operator.updateRun("ops", runId, {
      expectedVersion: created.run.version,
      status: "completed",
      state: { output: "done" },
    });
    const first = await events(`${gateway.url}${shown}`, {}, 2);
    expect(first.map((event) => event.event)).toEqual(["html", "end"]);
    expect(first[0]!.id).toBe(String(finished.version));
    expect(first[0]!.data).toContain("This run is finished.");
    // A browser reconnecting with the last id it got is told only that the run ended.
    const again = await events(`${gateway.url}${shown}`, { "last-event-id": String(finished.version) }, 2);
    expect(again.map((event) => event.event)).toEqual(["end"]);
  });
});
