import type { FunctionApp } from "../../../runtime/function.ts";

/**
 * The in-process subscriber of the broker benchmark, mounted by `knclaw dev` like any ksvc (`knclaw.dev/entry`).
 * Arrivals go to a module-level hook the benchmark (same thread, same module instance) installs.
 */
export const arrivals: { onEvent: (id: string) => void } = { onEvent: () => undefined };

export function createApp(): FunctionApp {
  return {
    fetch(request) {
      if (request.method === "POST") arrivals.onEvent(request.headers.get("ce-id") ?? "");
      return new Response(null, { status: 200 });
    },
  };
}
