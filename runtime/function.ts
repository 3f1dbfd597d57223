/**
 * The contract every knclaw function honours (Knative func's `handle` simplicity, hono's Web-standard shape).
 *
 * A function folder exports `createApp(env)` from its `app.ts`. The same app is served three ways:
 * - as its own process on a cluster (`main.ts` -> `serve()` on $PORT),
 * - mounted in-process by `knclaw dev`,
 * - as a child process by `knclaw dev --processes` and the coldstart benchmark.
 * `env` is the container environment the rendered ksvc would get (K_SINK, K_SERVICE, secrets, ...), never process.env
 * directly, so that `knclaw dev` can run many functions side by side in one process.
 */
export type FunctionEnv = Readonly<Record<string, string | undefined>>;

export interface FunctionApp {
  /**
   * Web-standard request handling; a hono app satisfies this. Built with createFunctionApp (app.ts), which serves
   * `GET /healthz`, `GET /readyz` and the broker's deliveries the same way for every function.
   */
  fetch(request: Request): Response | Promise<Response>;
  /** Release connections and timers; called after in-flight requests finished on shutdown. */
  close?(): Promise<void>;
}

/** What a host may give a function beside its environment. */
export interface FunctionOptions {
  /** The clock the function decides with (expiries, deadlines, due timers); tests of a whole platform move it. */
  now?: () => number;
}

export type CreateApp = (env: FunctionEnv, options?: FunctionOptions) => FunctionApp | Promise<FunctionApp>;

/** Paths of the Serving probes; the renderer points readiness/liveness probes at them. */
export const LIVENESS_PATH = "/healthz";
export const READINESS_PATH = "/readyz";
