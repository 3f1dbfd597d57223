/**
 * `npm run bench -- mcp`: what the platform adds to one MCP tool call. The platform path is the one a call takes
 * after the agent decided on it: the capability token signed (the agent's share), the tool.requested CloudEvent
 * POSTed over loopback HTTP to the MCP skill function (skills/mcp, served by serveSkill as in its pod), the token
 * verified, the call made with the SDK client to the server, the result mapped and answered as tool.completed. The
 * baseline, in the same run, calls the same published server (`@modelcontextprotocol/server-everything` over stdio,
 * its own process each) directly with the SDK client. Calls alternate between the two, one at a time, so both see
 * the same machine; the overhead at a percentile is the platform's latency minus the baseline's there.
 * Last line: {"bench":"mcp","overhead_p50_ms":N,"overhead_p99_ms":N}
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import pino from "pino";
import { makeEvent, readEvent } from "../../eventing/catalog/make.ts";
import { TOOL_COMPLETED, TOOL_REQUESTED } from "../../eventing/catalog/types.ts";
import { decodeMessageIfAny, encodeEvent } from "../../eventing/cloudevent/http-codec.ts";
import { eventSigner } from "../../eventing/trust/event-signature.ts";
import { generateSigningKey, parsePrivateKey } from "../../runtime/keys.ts";
import { serve } from "../../runtime/serve.ts";
import { McpServerSettings } from "../../skills/mcp/settings.ts";
import { createMcpSkill } from "../../skills/mcp/skill.ts";
import { argumentsDigest } from "../../skills/runtime/canonical-json.ts";
import { signCapability } from "../../skills/runtime/capability.ts";
import { serveSkill } from "../../skills/runtime/serve-skill.ts";
import { roleKeys } from "../support/event-keys.ts";

const CALLS = Number(process.env.MCP_BENCH_CALLS ?? 2000);
const WARMUP = Number(process.env.MCP_BENCH_WARMUP ?? 200);

const require = createRequire(import.meta.url);
const manifest = require.resolve("@modelcontextprotocol/server-everything/package.json");
const everything = join(dirname(manifest), "dist/index.js");

const keys = generateSigningKey();
const signing = parsePrivateKey(keys.privateKeyPem);
const asAgent = eventSigner("agent/bench", signing);
const log = pino({ level: "silent" });
const skill = createMcpSkill(
  "everything",
  McpServerSettings.parse({ transport: "stdio", command: process.execPath, args: [everything, "stdio"] }),
  {},
  log,
);
const served = await serve(
  serveSkill(skill.definition, {
    env: {
      KNCLAW_AGENT_PUBLIC_KEY: keys.publicKeyPem,
      KNCLAW_EVENT_SIGNING_KEY: roleKeys("skill/everything").privateKeyPem,
    },
    logger: log,
    liveTools: skill.live,
  }),
  { port: 0, host: "127.0.0.1" },
);
const direct = new Client({ name: "bench-direct", version: "1.0.0" }, { capabilities: {} });
await direct.connect(
  new StdioClientTransport({ command: process.execPath, args: [everything, "stdio"], stderr: "ignore" }),
);

let sequence = 0;
async function viaPlatform(): Promise<number> {
  const started = performance.now();
  sequence += 1;
  const args = { message: `hello ${sequence}` };
  const callId = `call-${sequence}`;
  const request = { runId: "bench-run", callId, instance: "bench", skill: "everything", tool: "echo" };
  const token = signCapability({ ...request, digest: argumentsDigest(args) }, signing);
  // Signed as the agent signs it, with the key of its capability tokens.
  const event = asAgent.sign(
    makeEvent(TOOL_REQUESTED, {
      id: callId,
      source: "/knclaw/agents/bench",
      data: { ...request, arguments: args, token, attempt: 1 },
    }),
  );
  const { headers, body } = encodeEvent(event, "binary");
  const response = await fetch(served.url, {
    method: "POST",
    headers,
    body: body as ConstructorParameters<typeof Response>[0],
  });
  const reply = decodeMessageIfAny(response.headers, new Uint8Array(await response.arrayBuffer()));
  const completed = readEvent(reply!, TOOL_COMPLETED);
  if (!completed.outcome.ok) throw new Error(`platform call failed: ${completed.outcome.error.message}`);
  return performance.now() - started;
}

async function viaSdk(): Promise<number> {
  const started = performance.now();
  sequence += 1;
  const result = await direct.callTool({ name: "echo", arguments: { message: `hello ${sequence}` } });
  if (result.isError === true) throw new Error("direct call failed");
  return performance.now() - started;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

try {
  for (let i = 0; i < WARMUP; i++) {
    await viaPlatform();
    await viaSdk();
  }
  const platform: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    platform.push(await viaPlatform());
    baseline.push(await viaSdk());
  }
  platform.sort((a, b) => a - b);
  baseline.sort((a, b) => a - b);
  const p50 = percentile(platform, 0.5) - percentile(baseline, 0.5);
  const p99 = percentile(platform, 0.99) - percentile(baseline, 0.99);
  const ms = (value: number) => `${value.toFixed(3)} ms`;
  console.log(`${CALLS} echo calls each, one at a time, alternating (after ${WARMUP} warm-up calls each)`);
  console.log(
    `platform (token, CloudEvent over HTTP, skill, SDK, server): p50 ${ms(percentile(platform, 0.5))}, p99 ${ms(percentile(platform, 0.99))}`,
  );
  console.log(
    `direct SDK client to the same server:                         p50 ${ms(percentile(baseline, 0.5))}, p99 ${ms(percentile(baseline, 0.99))}`,
  );
  console.log(
    `overhead: p50 ${ms(p50)}, p99 ${ms(p99)}; ratio platform/direct at p50 ${(percentile(platform, 0.5) / percentile(baseline, 0.5)).toFixed(2)}`,
  );
  console.log("target: overhead p50 < 5 ms");
  console.log(
    JSON.stringify({ bench: "mcp", overhead_p50_ms: Number(p50.toFixed(3)), overhead_p99_ms: Number(p99.toFixed(3)) }),
  );
} finally {
  await direct.close();
  await skill.connection.close();
  await served.shutdown();
}
