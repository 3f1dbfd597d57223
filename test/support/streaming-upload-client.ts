/**
 * A client in its own process that uploads bodies with Node's fetch as a stream (chunked, `duplex: "half"`), as a
 * producer streaming an event would, or with `declareLength` as one buffer under its Content-Length, and prints the
 * outcome of each attempt as JSON: the status, or the error's code. Run by streaming-upload.ts. Its own process, so
 * that the server runs while the client is between two writes, as it does in production; in the server's process the
 * two would take turns on one event loop.
 *
 * After `pauseAfter` bytes the client's event loop is busy once for `pauseMs`, as a loaded client's is: a server that
 * answers before the body is read gets its answer out and closes meanwhile, and the client, not having read that
 * answer yet, writes its next chunk into the closed socket (EPIPE, and fetch fails). An idle wait would not show it:
 * undici reads the answer while it waits and stops sending. This paces the client, it synchronises nothing: the
 * outcome the tests assert does not depend on it.
 */
interface Plan {
  url: string;
  headers: Record<string, string>;
  bytes: number;
  declareLength: boolean;
  pauseAfter: number;
  pauseMs: number;
  attempts: number;
}

const plan = JSON.parse(process.argv[2]!) as Plan;
const CHUNK = new Uint8Array(1024).fill(0x78);

function body(): ReadableStream<Uint8Array> {
  let sent = 0;
  let paused = false;
  return new ReadableStream({
    pull(controller) {
      if (sent >= plan.bytes) return controller.close();
      if (plan.pauseMs > 0 && !paused && sent >= plan.pauseAfter) {
        paused = true;
        const until = performance.now() + plan.pauseMs;
        while (performance.now() < until) {
          // busy, as a loaded event loop is
        }
      }
      const chunk = CHUNK.subarray(0, Math.min(CHUNK.byteLength, plan.bytes - sent));
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

const outcomes: Array<number | string> = [];
for (let i = 0; i < plan.attempts; i++) {
  try {
    const response = await fetch(plan.url, {
      method: "POST",
      headers: plan.headers,
      ...(plan.declareLength ? { body: new Uint8Array(plan.bytes).fill(0x78) } : { body: body(), duplex: "half" }),
    } as RequestInit);
    await response.arrayBuffer();
    outcomes.push(response.status);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    outcomes.push(`error:${cause?.code ?? cause?.message ?? String(error)}`);
  }
}
process.stdout.write(JSON.stringify(outcomes));
