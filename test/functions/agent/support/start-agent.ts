import { Writable } from "node:stream";
import { pino } from "pino";
import { createApp } from "../../../../functions/agent/app.ts";
import type { LanguageModel } from "../../../../functions/agent/providers/model.ts";
import type { AgentStore } from "../../../../functions/agent/store.ts";
import { generateSigningKey } from "../../../../runtime/keys.ts";

/**
 * The agent app of instance `ops` with the given environment added, its log lines collected: for what the agent
 * decides at start and at its first delivery. Its model, store and emit are inert, so no run may get that far.
 */
export async function startAgent(env: Record<string, string>) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  const app = await createApp(
    {
      KNCLAW_INSTANCE: "ops",
      KNCLAW_MODEL: "demo/demo",
      KNCLAW_SIGNING_KEY: generateSigningKey().privateKeyPem,
      KNCLAW_EVENT_KEYS: "{}",
      K_SINK: "http://127.0.0.1:9/unused",
      ...env,
    },
    { logger: pino(sink), model: {} as LanguageModel, store: {} as AgentStore, emit: async () => {} },
  );
  return { app, lines };
}
