import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { FunctionApp } from "./function.ts";
import { lingerOnClose } from "./http/lingering-close.ts";
import { startTelemetry, type Telemetry } from "./telemetry.ts";

export interface ServeOptions {
  port?: number;
  host?: string;
  /** Exit the process after SIGTERM drained (true when run as a ksvc's main). */
  handleSignals?: boolean;
  /** Longest a graceful shutdown waits for in-flight requests before closing sockets. */
  drainTimeoutMs?: number;
  /**
   * Start OpenTelemetry from the process's `OTEL_*` variables (runtime/telemetry.ts: nothing starts without an
   * endpoint) and shut it down after the app closed. Default: as a function's main (`handleSignals`).
   */
  telemetry?: boolean;
}

export interface Served {
  server: Server;
  url: string;
  port: number;
  /** Stop accepting, finish in-flight requests, then close the app. */
  shutdown(): Promise<void>;
}

/** Serve a function per the Knative runtime contract: $PORT, HTTP/1.1, graceful SIGTERM. */
export async function serve(app: FunctionApp, options: ServeOptions = {}): Promise<Served> {
  const telemetry = (options.telemetry ?? options.handleSignals) ? await startTelemetry(process.env) : undefined;
  const listener = getRequestListener((request) => app.fetch(request));
  let draining = false;
  const server = createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
    // While draining, a keep-alive socket that just finished its request would hold server.close() open: drop it.
    // A request answered before its body was read (a 413, say) leaves a socket that never turns idle: close it,
    // lingering (bounded) so that its client still reads the answer.
    res.once("finish", () => {
      if (!draining) return;
      if (req.complete) setImmediate(() => server.closeIdleConnections());
      else req.socket.destroySoon();
    });
    void listener(req, res);
  });
  // A connection closed while a request's body still arrives lingers, so its client sees the answer, not a reset.
  lingerOnClose(server);
  const port = options.port ?? Number(process.env.PORT ?? 8080);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, options.host ?? "0.0.0.0", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    draining = true;
    stopping ??= drain(server, app, options.drainTimeoutMs ?? 30_000, telemetry);
    return stopping;
  };
  if (options.handleSignals) {
    const onSignal = () => {
      void shutdown().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { server, port: actual, url: `http://127.0.0.1:${actual}`, shutdown };
}

async function drain(server: Server, app: FunctionApp, timeoutMs: number, telemetry?: Telemetry): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
  try {
    await app.close?.();
  } finally {
    await telemetry?.shutdown();
  }
}
