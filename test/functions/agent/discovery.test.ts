import pino from "pino";
import { describe, expect, it } from "vitest";
import { SkillDiscovery } from "../../../functions/agent/tools/discovery.ts";

const log = pino({ level: "silent" });
const descriptor = (tools: string[]) => ({
  name: "files",
  tools: tools.map((name) => ({ name, description: name, inputSchema: { type: "object" }, mutates: false })),
});

/** A skill endpoint answering whatever `answer` says now, counting the reads. */
function endpoint() {
  const state = { answer: (): Response => Response.json(descriptor(["read"])), reads: 0, urls: [] as string[] };
  const fetch = async (url: string) => {
    state.reads += 1;
    state.urls.push(url);
    return state.answer();
  };
  return { state, fetch };
}

describe("SkillDiscovery", () => {
  it("reads the descriptor at the first step, again only after the TTL, and follows changes", async () => {
    const { state, fetch } = endpoint();
    let now = 0;
    const discovery = new SkillDiscovery({
      endpoints: { files: "http://skill-files.knclaw.svc.cluster.local/" },
      fetch,
      log,
      ttlMs: 1000,
      now: () => now,
    });
    expect((await discovery.current()).map((s) => s.tools.map((t) => t.name))).toEqual([["read"]]);
    expect(state.urls).toEqual(["http://skill-files.knclaw.svc.cluster.local/.well-known/knclaw-skill"]);
    const first = discovery.generation;
    state.answer = () => Response.json(descriptor(["read", "write"]));
    now = 500;
    await discovery.current();
    expect(state.reads).toBe(1);
    now = 1500;
    expect((await discovery.current())[0]!.tools.map((t) => t.name)).toEqual(["read", "write"]);
    expect(discovery.generation).toBeGreaterThan(first);
  });

  it("keeps the last known tools while the skill cannot be reached, and ignores a descriptor of another skill", async () => {
    const { state, fetch } = endpoint();
    let now = 0;
    const discovery = new SkillDiscovery({
      endpoints: { files: "http://files" },
      fetch,
      log,
      ttlMs: 1,
      now: () => now,
    });
    await discovery.current();
    const generation = discovery.generation;
    state.answer = () => new Response("down", { status: 503 });
    now = 10;
    expect((await discovery.current())[0]!.tools.map((t) => t.name)).toEqual(["read"]);
    state.answer = () => Response.json({ ...descriptor(["evil"]), name: "other" });
    now = 20;
    expect((await discovery.current())[0]!.tools.map((t) => t.name)).toEqual(["read"]);
    expect(discovery.generation).toBe(generation);
  });

  it("offers nothing from a skill never reached", async () => {
    const discovery = new SkillDiscovery({
      endpoints: { files: "http://files" },
      fetch: async () => {
        throw new Error("connection refused");
      },
      log,
    });
    expect(await discovery.current()).toEqual([]);
  });
});
