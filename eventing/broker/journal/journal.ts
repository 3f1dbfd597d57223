import type { CloudEvent } from "../../cloudevent/event.ts";
import type { DeliveryProgress } from "../../delivery/retry-loop.ts";

/**
 * The delivery journal: what makes the embedded broker durable. The ingress answers 202 only once every delivery the
 * event matched is stored; a delivery leaves the journal only when it is finished (the subscriber's 2xx, the
 * dead-letter sink's 2xx, or a final drop); its retry state is stored before each wait, so after a crash every stored
 * delivery resumes where it was, with the Knative semantics of the live path (eventing/delivery/retry-loop.ts).
 *
 * Implementations: sqlite.ts (node:sqlite in a state directory, the `knclaw dev` default) and redis.ts (Redis Streams
 * with a consumer group). Without a journal the broker keeps deliveries in memory only.
 */

/** A delivery as the broker asks to store it: the event as it will be delivered, and what the retry loop needs. */
export interface NewDelivery {
  /** The Trigger's name; Triggers live in their broker's namespace. */
  trigger: string;
  /** The event with its arrival time set and the TTL removed (it travels beside the event: `ttl`). */
  event: CloudEvent;
  /** The TTL the event has after this pass through ingress; put back on a reply. */
  ttl: number;
  /** The pass-through headers of the ingress request (tracing, `knative-*`, ...). */
  headers: Record<string, string>;
}

/** A stored delivery handed to the broker to run: new, or found pending at start (then with its retry state). */
export interface StoredDelivery extends NewDelivery {
  /** The journal's key for it. */
  id: string;
  progress?: DeliveryProgress;
  /**
   * Appended through this journal since it opened: the broker counted it as pending when it asked for the append.
   * Deliveries stored before (recovered) or by another process are not.
   */
  local?: true;
}

export type Dispatch = (delivery: StoredDelivery) => void;

/** One broker's journal. */
export interface DeliveryJournal {
  /**
   * Store deliveries; resolves once they are durable (and rejects when they could not be stored: no 202 then).
   * Stored deliveries reach the broker through the `dispatch` given to `start`.
   */
  append(deliveries: readonly NewDelivery[]): Promise<void>;
  /** Store a delivery's retry state; resolves once durable. */
  progress(id: string, progress: DeliveryProgress): Promise<void>;
  /** The delivery is finished: forget it. */
  remove(id: string): Promise<void>;
  /**
   * Hand every delivery pending from before (with its retry state) to `dispatch`, then every new one. `room` says
   * how many more deliveries the broker takes now; a journal that can hold deliveries back (Redis) reads no more.
   */
  start(dispatch: Dispatch, room: () => number): Promise<void>;
  /** Hand out no more deliveries (shutdown); what is not finished stays stored for the next start. */
  stop(): Promise<void>;
}

/** A journal store serving every broker of a process; closed once all brokers have drained. */
export interface JournalStore {
  /** "sqlite", "redis": for logs and listings. */
  readonly kind: string;
  forBroker(namespace: string, name: string): DeliveryJournal;
  close(): Promise<void>;
}

/** The event's attributes as stored: JSON text (data is stored beside them as bytes). */
export function encodeAttributes(event: CloudEvent): string {
  return JSON.stringify(event.attributes);
}

export function decodeEvent(attributes: string, data: Uint8Array | null | undefined): CloudEvent {
  const parsed = JSON.parse(attributes) as Record<string, string>;
  return data === null || data === undefined ? { attributes: parsed } : { attributes: parsed, data };
}
