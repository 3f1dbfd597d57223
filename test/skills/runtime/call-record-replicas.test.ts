import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvent, type ToolCompleted } from "../../../eventing/catalog/index.ts";
import { TOOL_COMPLETED } from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { decodeMessageIfAny, encodeEvent } from "../../../eventing/cloudevent/http-codec.ts";
import { generateSigningKey, parsePrivateKey } from "../../../skills/runtime/index.ts";
import {
  deleteKeys,
  type MemoryHarness,
  SHARED_REDIS,
  startMemory,
  uniquePrefix,
} from "../../functions/memory/support/harness.ts";
import { inheritedEnv, waitForOutput } from "../../support/cli-process.ts";
import { roleKeys } from "../../support/event-keys.ts";
import { signedToolRequest } from "../support/call.ts";
import { type HttpTarget, startHttpTarget } from "../support/http-target.ts";

/**
 * A redelivered tool.requested must not act twice, whichever replica it lands on: each replica here is a process of
 * its own, configured as a rendered ksvc is (KNCLAW_MEMORY_URL and the skill's `skill`-scoped token), and they share
 * only the memory service, itself on the local Redis. The effects are counted where they land: the http skill's POSTs
 * at the target, the MCP server's appends in its journal file.
 */
const FIXTURES = join(import.meta.dirname, "fixtures");
/** A safety net, not synchronization: each test starts two or three Node processes that load the skill's modules. */
const PROCESS_TESTS_TIMEOUT_MS = 180_000;
const keys = generateSigningKey();
const signing = parsePrivateKey(keys.privateKeyPem);
const prefix = uniquePrefix();
let memory: MemoryHarness;
const children: ChildProcess[] = [];

beforeAll(async () => {
  memory = await startMemory({ KNCLAW_REDIS_URL: SHARED_REDIS, KNCLAW_REDIS_KEY_PREFIX: prefix });
});

afterAll(async () => {
  await Promise.all(children.map(stop));
  await memory?.close();
  await deleteKeys(SHARED_REDIS, prefix);
});

interface Replica {
  url: string;
  child: ChildProcess;
  /** Resolves once the replica has logged `text` (its log lines arrive on their own pipe, after or before a reply). */
  logged(text: string): Promise<void>;
}

/** A replica process of skill `name` (fixtures/skill-replica.ts), ready to take deliveries. */
async function startReplica(kind: "http" | "mcp", name: string, env: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, [join(FIXTURES, "skill-replica.ts"), kind], {
    env: inheritedEnv((variable) => variable.startsWith("KNCLAW_"), {
      NODE_ENV: "test",
      KNCLAW_LOG_LEVEL: "info",
      KNCLAW_SKILL: name,
      KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
      KNCLAW_EVENT_SIGNING_KEY: roleKeys(`skill/${name}`).privateKeyPem,
      KNCLAW_MEMORY_URL: memory.url,
      KNCLAW_MEMORY_TOKEN: memory.token({ kind: "skill", name }),
      ...env,
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const [, url] = await waitForOutput(child, /"replica":"ready","url":"([^"]+)"/);
  const logged = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!output.includes(text)) return;
        child.stdout!.off("data", check);
        resolve();
      };
      child.stdout!.on("data", check);
      child.once("exit", () => reject(new Error(`exited before logging ${text}`)));
      check();
    });
  return { url: url!, child, logged };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** The broker's delivery of `event` to a replica, over HTTP: the status and the tool.completed it answered with. */
async function deliver(replica: Replica, event: CloudEvent): Promise<{ status: number; completed?: ToolCompleted }> {
  const { headers, body } = encodeEvent(event, "binary");
  const response = await fetch(`${replica.url}/`, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  const reply = decodeMessageIfAny(response.headers, new Uint8Array(await response.arrayBuffer()));
  return { status: response.status, completed: reply ? readEvent(reply, TOOL_COMPLETED) : undefined };
}

let sequence = 0;
function request(skill: string, tool: string, args: Record<string, unknown>): CloudEvent {
  sequence += 1;
  const call = { runId: "run-1", callId: `call-${sequence}`, instance: "ops", skill, tool, arguments: args };
  return signedToolRequest(call, signing);
}

describe("the http skill's POST redelivered to other replicas", () => {
  let target: HttpTarget;
  /** Set by a test to hold the next POST to /slow-orders: told when it arrives, answered when the test says. */
  let hold: { arrived: () => void; answer?: () => void } | undefined;
  const env = () => ({ TEST_TARGET_PORT: String(target.port), KNCLAW_ALLOWED_HOSTS: `127.0.0.1:${target.port}` });

  beforeAll(async () => {
    target = await startHttpTarget({
      "/orders": (_req, res, body) =>
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ created: JSON.parse(body) })),
      "/slow-orders": (_req, res) => {
        const answer = () => res.writeHead(201, { "content-type": "text/plain" }).end("created");
        if (hold === undefined) return answer();
        hold.answer = answer;
        hold.arrived();
      },
    });
  });
  afterAll(() => target?.close());

  it(
    "runs once; another replica, and a replica started after a restart, answer the recorded outcome",
    async () => {
      const [a, b] = await Promise.all([startReplica("http", "http", env()), startReplica("http", "http", env())]);
      const call = request("http", "post", { url: `${target.origin}/orders`, json: { sku: "x-1", quantity: 2 } });

      const first = await deliver(a, call);
      expect(first.status).toBe(200);
      expect(first.completed!.outcome).toMatchObject({ ok: true, result: { status: 201 } });

      const again = await deliver(b, call);
      expect(again.status).toBe(200);
      expect(again.completed!.outcome).toEqual(first.completed!.outcome);
      expect(again.completed!.callId).toBe(first.completed!.callId);
      await b.logged("redelivered call answered from its record");

      // The first replica goes away (a crash or a scale-down); a fresh process takes the next redelivery.
      await stop(a.child);
      const c = await startReplica("http", "http", env());
      const afterRestart = await deliver(c, call);
      expect(afterRestart.completed!.outcome).toEqual(first.completed!.outcome);

      expect(target.seen.filter((seen) => seen.url === "/orders")).toHaveLength(1);
      // A read is not recorded: each replica that gets it runs it (harmless).
      const read = request("http", "get", { url: `${target.origin}/orders-list` });
      await deliver(b, read);
      await deliver(c, read);
      expect(target.seen.filter((seen) => seen.url === "/orders-list")).toHaveLength(2);
      await Promise.all([stop(b.child), stop(c.child)]);
    },
    PROCESS_TESTS_TIMEOUT_MS,
  );

  it(
    "a redelivery while the POST still runs on another replica is a 409 for the broker to retry, not a second POST",
    async () => {
      const [a, b] = await Promise.all([startReplica("http", "http", env()), startReplica("http", "http", env())]);
      const call = request("http", "post", { url: `${target.origin}/slow-orders`, body: "one" });
      const arrived = new Promise<void>((resolve) => {
        hold = { arrived: resolve };
      });

      const first = deliver(a, call);
      await arrived;
      const during = await deliver(b, call);
      expect(during.status).toBe(409);
      hold!.answer!();
      hold = undefined;
      expect((await first).completed!.outcome).toMatchObject({ ok: true, result: { status: 201 } });
      const after = await deliver(b, call);
      expect(after.completed!.outcome).toEqual((await first).completed!.outcome);
      expect(target.seen.filter((seen) => seen.url === "/slow-orders")).toHaveLength(1);
      await Promise.all([stop(a.child), stop(b.child)]);
    },
    PROCESS_TESTS_TIMEOUT_MS,
  );
});

describe("an MCP server's mutating tool redelivered to another replica", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "knclaw-journal-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    "runs once on the server; the other replica answers the recorded outcome",
    async () => {
      const journal = join(dir, "journal.txt");
      const server = {
        transport: "stdio",
        command: process.execPath,
        args: [join(FIXTURES, "journal-mcp-server.ts")],
        env: { JOURNAL_FILE: journal },
      };
      // Each replica runs its own copy of the server (as each pod would); the journal is what they act on.
      const env = { KNCLAW_MCP_SERVER: JSON.stringify(server) };
      const [a, b] = await Promise.all([startReplica("mcp", "journal", env), startReplica("mcp", "journal", env)]);
      const call = request("journal", "append", { line: "paid invoice 42" });

      const first = await deliver(a, call);
      expect(first.completed!.outcome).toEqual({
        ok: true,
        result: { content: [{ type: "text", text: "journal has 1 lines" }] },
      });
      const again = await deliver(b, call);
      expect(again.completed!.outcome).toEqual(first.completed!.outcome);
      await b.logged("redelivered call answered from its record");
      expect(readFileSync(journal, "utf8")).toBe("paid invoice 42\n");

      // A new call (another call id) is another execution.
      const next = await deliver(b, request("journal", "append", { line: "paid invoice 43" }));
      expect(next.completed!.outcome).toMatchObject({
        ok: true,
        result: { content: [{ text: "journal has 2 lines" }] },
      });
      await Promise.all([stop(a.child), stop(b.child)]);
    },
    PROCESS_TESTS_TIMEOUT_MS,
  );
});
