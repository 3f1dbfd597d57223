import type { AdapterDeps } from "../../../../functions/channels/toolkit/adapter-runtime.ts";
import type { FunctionApp } from "../../../../runtime/function.ts";
import { type Served, serve } from "../../../../runtime/serve.ts";
import { eventKeysEnv, TEST_AGENTS } from "../../../support/event-keys.ts";
import { memoryChannelState } from "./memory-state.ts";

type TestState = ReturnType<typeof memoryChannelState>;

/** An adapter signs what it emits (with a test key: its role is its own) and acts on what the agents sign. */
const ADAPTER_EVENT_KEYS = eventKeysEnv("channel/test", TEST_AGENTS);

/** One adapter served on a loopback port with in-process channel state; `stop` shuts it down. */
export interface RunningAdapter {
  url: string;
  state: TestState;
  served: Served;
  stop(): Promise<void>;
}

export async function runAdapter(
  createApp: (env: Record<string, string>, deps: AdapterDeps) => Promise<FunctionApp>,
  env: Record<string, string>,
  deps: AdapterDeps = {},
): Promise<RunningAdapter> {
  const state = memoryChannelState();
  const app = await createApp({ ...ADAPTER_EVENT_KEYS, ...env }, { state, ...deps });
  const served = await serve(app, { port: 0, host: "127.0.0.1" });
  return { url: served.url, state, served, stop: () => served.shutdown() };
}

/** The adapter environment the renderer writes for a `channels.<type>` section, with the adapter's event keys. */
export function channelEnv(config: {
  routes?: unknown[];
  defaultInstance?: string;
  access?: string;
  allow?: string[];
  deny?: string[];
  instances?: Record<string, { allow?: string[]; deny?: string[] }>;
  /** `groupPolicy` and `groups` of the channel section (toolkit/groups.ts). */
  groups?: { policy?: string; groups?: Record<string, { requireMention?: boolean }> };
}): Record<string, string> {
  const env: Record<string, string> = {
    ...ADAPTER_EVENT_KEYS,
    KNCLAW_CHANNEL_ROUTES: JSON.stringify({ routes: config.routes ?? [], defaultInstance: config.defaultInstance }),
    KNCLAW_CHANNEL_ALLOW: JSON.stringify(config.allow ?? []),
    KNCLAW_CHANNEL_DENY: JSON.stringify(config.deny ?? []),
  };
  if (config.access !== undefined) env.KNCLAW_CHANNEL_ACCESS = config.access;
  if (config.instances !== undefined) env.KNCLAW_CHANNEL_INSTANCES = JSON.stringify(config.instances);
  if (config.groups !== undefined) env.KNCLAW_CHANNEL_GROUPS = JSON.stringify(config.groups);
  return env;
}
