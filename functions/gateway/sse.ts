/**
 * A text/event-stream response fed by an async producer. The producer gets a `send` for one SSE event, a `comment`
 * for keep-alives, and a signal that aborts when the client goes away.
 */
export interface SseWriter {
  send(event: { id?: string; event?: string; data: string }): void;
  comment(text: string): void;
  signal: AbortSignal;
}

const encoder = new TextEncoder();

export function sseResponse(
  produce: (writer: SseWriter) => Promise<void>,
  headers: Record<string, string> = {},
): Response {
  const abort = new AbortController();
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
  const write = (text: string) => {
    if (abort.signal.aborted) return;
    try {
      controllerRef?.enqueue(encoder.encode(text));
    } catch {
      abort.abort();
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controllerRef = controller;
      const writer: SseWriter = {
        send(event) {
          let text = "";
          if (event.id !== undefined) text += `id: ${event.id}\n`;
          if (event.event !== undefined) text += `event: ${event.event}\n`;
          for (const line of event.data.split("\n")) text += `data: ${line}\n`;
          write(`${text}\n`);
        },
        comment(text) {
          write(`: ${text}\n\n`);
        },
        signal: abort.signal,
      };
      produce(writer)
        .catch(() => undefined)
        .finally(() => {
          if (!abort.signal.aborted) {
            try {
              controller.close();
            } catch {
              // already closed by a cancel
            }
          }
        });
    },
    cancel() {
      abort.abort();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...headers,
    },
  });
}
