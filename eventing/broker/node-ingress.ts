import type { IncomingMessage, ServerResponse } from "node:http";
import { drainAllowance } from "../cloudevent/body.ts";
import { CloudEventError } from "../cloudevent/errors.ts";
import { nodeHeaderReader } from "../cloudevent/node-headers.ts";
import type { Ingress, IngressRequest, IngressResponse } from "./ingress.ts";

/** Serve the ingress on Node's HTTP server directly: the hot path builds no Web Request and no Headers. */
function ingressRequestFromNode(req: IncomingMessage): IngressRequest {
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  return {
    method: req.method ?? "GET",
    path: query >= 0 ? url.slice(0, query) : url,
    headers: nodeHeaderReader(req.headers),
    readBody: (maxBytes) => readNodeBody(req, maxBytes),
    discardBody: () => {
      req.resume();
    },
  };
}

export async function serveIngressOnNode(ingress: Ingress, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let response: IngressResponse;
  try {
    response = await ingress.handle(ingressRequestFromNode(req));
  } catch {
    response = { status: 500, headers: { "content-type": "text/plain; charset=utf-8" }, body: "internal error\n" };
  }
  // Written in the check phase, after the deliveries this poll batch started (undici writes a request on a reused
  // connection there too): a sender that is also the subscriber, as a load test is, wakes once for both instead of
  // once for the 202s and again for the deliveries. Costs the 202 one event-loop phase.
  setImmediate(writeNodeResponse, res, response);
}

function writeNodeResponse(res: ServerResponse, response: IngressResponse): void {
  if (res.headersSent || res.destroyed) return;
  // The flat [name, value, ...] form skips Node's per-header setHeader bookkeeping on this hot path.
  const headers: string[] = [];
  for (const name in response.headers) headers.push(name, response.headers[name]!);
  headers.push("content-length", String(Buffer.byteLength(response.body)));
  res.writeHead(response.status, headers);
  if (response.body === "") res.end();
  else res.end(response.body);
}

/**
 * Read a request body up to `maxBytes`. Past it, the rest is read and dropped up to the drain allowance
 * (eventing/cloudevent/body.ts: a client still sending would otherwise meet a reset instead of the 413), and only a
 * body larger still is left unread (the caller closes the connection either way, and the server lingers on that
 * close: runtime/http/lingering-close.ts).
 */
function readNodeBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const drainTo = maxBytes + drainAllowance(maxBytes);
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > drainTo) {
    req.pause();
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off("data", onData);
      req.pause();
      reject(tooLarge(maxBytes));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > drainTo) stop();
      else if (size > maxBytes) chunks.length = 0;
      else chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      if (size > maxBytes) reject(tooLarge(maxBytes));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.once("error", (error) => reject(new CloudEventError(400, `request body could not be read: ${error.message}`)));
    req.once("aborted", () => reject(new CloudEventError(400, "request aborted")));
  });
}

function tooLarge(maxBytes: number): CloudEventError {
  return new CloudEventError(413, `request body exceeds the limit of ${maxBytes} bytes`);
}
