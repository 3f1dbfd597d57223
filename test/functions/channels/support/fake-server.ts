import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";

export interface SeenRequest {
  method: string;
  path: string;
}

/**
 * Base of the platform fakes: a real HTTP server on an OS-chosen loopback port, a log of what it accepted, and
 * waiting on "at least n accepted" without sleeping.
 */
export abstract class FakeServer<Record> {
  readonly accepted: Record[] = [];
  /** Every request seen, accepted or not (method and path). */
  readonly requests: SeenRequest[] = [];
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly matchers: Array<{ predicate: (entry: Record) => boolean; resolve: (entry: Record) => void }> = [];
  private readonly requestMatchers: Array<{ predicate: (request: SeenRequest) => boolean; resolve: () => void }> = [];
  private server: Server | undefined;
  url = "";

  protected abstract handle(request: Request, path: string): Promise<Response>;

  async start(): Promise<this> {
    const listener = getRequestListener(async (request) => {
      const path = new URL(request.url).pathname;
      const seen = { method: request.method, path };
      this.requests.push(seen);
      for (const matcher of this.requestMatchers.filter((m) => m.predicate(seen))) {
        this.requestMatchers.splice(this.requestMatchers.indexOf(matcher), 1);
        matcher.resolve();
      }
      return this.handle(request, path);
    });
    this.server = createServer((req, res) => void listener(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  protected record(entry: Record): void {
    this.accepted.push(entry);
    for (const matcher of [...this.matchers]) {
      if (matcher.predicate(entry)) {
        this.matchers.splice(this.matchers.indexOf(matcher), 1);
        matcher.resolve(entry);
      }
    }
    for (const waiter of [...this.waiters]) {
      if (this.accepted.length >= waiter.count) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  /** Resolves once at least `count` requests were accepted. */
  waitFor(count: number): Promise<Record[]> {
    if (this.accepted.length >= count) return Promise.resolve(this.accepted);
    return new Promise((resolve) => this.waiters.push({ count, resolve: () => resolve(this.accepted) }));
  }

  /** Resolves with the first accepted request (already or later) that satisfies `predicate`. */
  waitUntil(predicate: (entry: Record) => boolean): Promise<Record> {
    const found = this.accepted.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.matchers.push({ predicate, resolve }));
  }

  /** Resolves once a request (accepted or not) satisfying `predicate` has arrived. */
  waitUntilRequest(predicate: (request: SeenRequest) => boolean): Promise<void> {
    if (this.requests.some(predicate)) return Promise.resolve();
    return new Promise((resolve) => this.requestMatchers.push({ predicate, resolve }));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export async function readRequestBody(request: Request): Promise<Record<string, unknown>> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const text = await request.text();
  if (type === "application/x-www-form-urlencoded") {
    const out: Record<string, unknown> = {};
    for (const [name, value] of new URLSearchParams(text)) {
      out[name] = name === "blocks" || name === "reply_markup" ? JSON.parse(value) : value;
    }
    return out;
  }
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}
