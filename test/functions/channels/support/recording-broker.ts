import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { CloudEventError } from "../../../../eventing/cloudevent/errors.ts";
import type { CloudEvent } from "../../../../eventing/cloudevent/event.ts";
import { decodeRequest } from "../../../../eventing/cloudevent/http-codec.ts";

/**
 * A loopback stand-in for broker ingress that records what producers emit: it decodes each request with the same
 * strict codec Knative's ingress follows and answers 202, or a status the test queued to simulate an outage.
 */
export class RecordingBroker {
  readonly events: CloudEvent[] = [];
  /** Statuses to answer with before accepting again (e.g. [503, 503] = two failures; 0 = accept this one). */
  readonly failures: number[] = [];
  /** Called with each accepted event (after it is recorded): lets a test play the agent. */
  onEvent: ((event: CloudEvent) => void) | undefined;
  /** While set, each request waits for this promise before being answered. */
  hold: Promise<void> | undefined;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    const listener = getRequestListener(async (request) => {
      if (this.hold) await this.hold;
      const failure = this.failures.shift();
      if (failure !== undefined && failure !== 0) {
        await request.body?.cancel();
        return new Response(null, { status: failure });
      }
      let event: CloudEvent;
      try {
        event = await decodeRequest(request);
      } catch (error) {
        return new Response(null, { status: error instanceof CloudEventError ? error.status : 500 });
      }
      this.events.push(event);
      this.onEvent?.(event);
      for (const waiter of [...this.waiters]) {
        if (this.events.length >= waiter.count) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      return new Response(null, { status: 202 });
    });
    this.server = createServer((req, res) => void listener(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/default/default`;
    return this;
  }

  /** Resolves once at least `count` events were accepted. */
  waitForEvents(count: number): Promise<CloudEvent[]> {
    if (this.events.length >= count) return Promise.resolve(this.events);
    return new Promise((resolve) => this.waiters.push({ count, resolve: () => resolve(this.events) }));
  }

  ofType(type: string): CloudEvent[] {
    return this.events.filter((event) => event.attributes.type === type);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
