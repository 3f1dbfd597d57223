import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { Ingress } from "../../eventing/broker/ingress.ts";
import type { Log } from "../../eventing/broker/log.ts";
import { serveIngressOnNode } from "../../eventing/broker/node-ingress.ts";
import { lingerOnClose } from "../../runtime/http/lingering-close.ts";
import type { MountedFunction } from "./function-mounts.ts";
import type { PathRouter } from "./path-routes.ts";

/**
 * The one listener of `knclaw dev`: POSTs to a known `/<namespace>/<broker>` go to the ingress on Node's server
 * directly (the hot path); with OIDC on, GETs of the issuer's discovery document and keys are answered here; then the
 * path table (cli/dev/path-routes.ts) picks a function, which gets a Web Request;
 * everything else gets the ingress's own answers (404, 400, 405), as Knative's broker-ingress gives them.
 */
export function createDevServer(
  ingress: Ingress,
  brokerPaths: { has(namespaceSlashName: string): boolean },
  router: PathRouter,
  mounted: ReadonlyMap<string, MountedFunction>,
  log: Log,
  /** With OIDC on: the issuer's discovery document and keys, by path (cli/dev/oidc.ts). */
  wellKnown?: (path: string) => unknown,
): Server {
  const listeners = new Map<string, ReturnType<typeof getRequestListener>>();
  const listenerFor = (service: string) => {
    let listener = listeners.get(service);
    if (!listener) {
      listener = getRequestListener(async (request) => {
        const fn = mounted.get(service);
        if (!fn) return new Response(`${service} is starting\n`, { status: 503, headers: { "retry-after": "1" } });
        return fn.handler.fetch(request);
      });
      listeners.set(service, listener);
    }
    return listener;
  };
  const server = createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? "/";
    const query = raw.indexOf("?");
    const path = query >= 0 ? raw.slice(0, query) : raw;
    const document = req.method === "GET" ? wellKnown?.(path) : undefined;
    if (document !== undefined) {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
      res.end(JSON.stringify(document));
      return;
    }
    if (req.method === "POST") {
      const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
      if (brokerPaths.has(trimmed.slice(1))) {
        void serveIngressOnNode(ingress, req, res);
        return;
      }
    }
    const match = router.match(path);
    if (match) {
      req.url = query >= 0 ? `${match.path}${raw.slice(query)}` : match.path;
      void Promise.resolve(listenerFor(match.route.service)(req, res)).catch((error: unknown) => {
        log.error({ err: error, service: match.route.service }, "function request failed");
        if (!res.headersSent) res.writeHead(500).end();
      });
      return;
    }
    void serveIngressOnNode(ingress, req, res);
  });
  // A connection closed while a request's body still arrives (the ingress's or a function's 413) lingers, so the
  // client sees the answer rather than a reset.
  lingerOnClose(server);
  // Bytes Node's parser rejects (bad request lines, invalid header characters) get a plain 400.
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  return server;
}

/** Listen, resolving with the port and the URL others should use (loopback when listening on every interface). */
export function listen(server: Server, port: number, host: string): Promise<{ port: number; url: string }> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      const actual = typeof address === "object" && address ? address.port : port;
      const publicHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
      resolve({ port: actual, url: `http://${publicHost}:${actual}` });
    });
  });
}
