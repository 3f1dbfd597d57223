import type { Redis } from "ioredis";

/**
 * Telling a hung Redis (stopped, frozen, a network that drops packets without a reset) from a slow one, fast, so that
 * the calls waiting on it fail with 503 in about `hungAfterMs` instead of waiting out a command timeout that must be
 * long enough for the slowest honest command.
 *
 * A probe connection of its own sends PING every `intervalMs`. Redis interleaves its clients, so a busy Redis still
 * answers the probe within milliseconds, while a hung one answers nothing: when a PING has gone unanswered for
 * `hungAfterMs`, the watched clients are closed and connected again: closing fails every command they were waiting on,
 * at once (a reconnecting close would keep them for a resend, waiting for their own timeout), and until the new
 * connection is ready, which is when Redis answers again, new commands are refused or queued as each client says. The verdict
 * is taken after the event loop has read the sockets (setImmediate), so a pause of this process, which delays the
 * PONG and the timer alike, is not mistaken for a hung Redis. A Redis that is down (connection refused or reset) is
 * ioredis's own business: the probe is not connected then, and the watchdog waits (as it does while the probe
 * connects: a Redis loading its data answers the handshake late, and is not hung).
 */
export interface RedisWatchdogOptions {
  /** How often the probe pings. */
  intervalMs?: number;
  /** An unanswered PING this old means Redis is hung. */
  hungAfterMs?: number;
  onHung?: () => void;
  onAnswered?: () => void;
}

export interface RedisWatchdog {
  stop(): void;
}

const WATCHDOG_INTERVAL_MS = 25;
const WATCHDOG_HUNG_AFTER_MS = 75;

export function watchRedis(probe: Redis, watched: readonly Redis[], options: RedisWatchdogOptions = {}): RedisWatchdog {
  const intervalMs = options.intervalMs ?? WATCHDOG_INTERVAL_MS;
  const hungAfterMs = options.hungAfterMs ?? WATCHDOG_HUNG_AFTER_MS;
  /** When the PING in flight was sent. */
  let sentAt: number | undefined;
  let hung = false;
  const unanswered = () => sentAt !== undefined && Date.now() - sentAt >= hungAfterMs;
  // Its connection errors are the watched clients' too, and reported there.
  probe.on("error", () => undefined);
  // A duplicate of a lazily connecting client waits for its first command: connect it now.
  if (probe.status === "wait") probe.connect().catch(() => undefined);
  const timer = setInterval(() => {
    if (probe.status === "ready" && sentAt === undefined) {
      sentAt = Date.now();
      probe.ping().then(
        () => {
          sentAt = undefined;
          if (hung) {
            hung = false;
            options.onAnswered?.();
          }
        },
        () => {
          sentAt = undefined;
        },
      );
      return;
    }
    if (hung || !unanswered()) return;
    setImmediate(() => {
      if (hung || !unanswered()) return;
      hung = true;
      options.onHung?.();
      // A client still connecting has nothing sent to wait on: it becomes ready when Redis answers.
      for (const client of watched) if (client.status === "ready") restart(client);
    });
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      probe.disconnect();
    },
  };
}

/**
 * Close (failing what waits on the connection) and connect again once closed. ioredis's disconnect only ends the
 * socket, whose close a stopped peer never completes: the socket is destroyed too, so the close (and with it the
 * rejection of every command waiting on it) happens now.
 */
function restart(client: Redis): void {
  client.once("end", () => {
    client.connect().catch(() => undefined);
  });
  client.disconnect();
  client.stream?.destroy();
}
