import type { AdapterDeps } from "../../../eventing/channels/adapter-runtime.ts";
import type { FunctionApp } from "../../../knative/serving/function.ts";
import { type Served, serve } from "../../../knative/serving/serve.ts";
import { memoryChannelState } from "./memory-state.ts";

export type TestState = ReturnType<typeof memoryChannelState>;

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
  const app = await createApp(env, { state, ...deps });
  const served = await serve(app, { port: 0, host: "127.0.0.1" });
  return { url: served.url, state, served, stop: () => served.shutdown() };
}
