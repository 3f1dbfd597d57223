import { createHash, randomUUID } from "node:crypto";
import type { z } from "zod";
import { CloudEventError } from "../cloudevent/errors.ts";
import { type CloudEvent, dataAsJson, jsonBytes } from "../cloudevent/event.ts";
import { EXT_CHANNEL, EXT_INSTANCE, EXT_RUN, EXT_SKILL, EXT_TARGET } from "./attributes.ts";
import { EVENT_SCHEMAS, type EventData, type EventDataInput, type EventType } from "./events.ts";
import * as T from "./types.ts";

export interface MakeEventInit<K extends EventType> {
  source: string;
  data: EventDataInput<K>;
  /** Derived events pass a deterministic id (see derivedEventId); originals get a random one. */
  id?: string;
  subject?: string;
  time?: Date;
  extensions?: Record<string, string | undefined>;
}

/**
 * Build a catalog event: validates data against its schema, sets the routing extensions Triggers filter on from the
 * data itself (so routing can never disagree with content), and encodes data as JSON.
 */
export function makeEvent<K extends EventType>(type: K, init: MakeEventInit<K>): CloudEvent {
  const schema = EVENT_SCHEMAS[type] as unknown as z.ZodType<EventData<K>>;
  const data = schema.parse(init.data);
  const attributes: Record<string, string> = {
    specversion: "1.0",
    id: init.id ?? randomUUID(),
    source: init.source,
    type,
    datacontenttype: "application/json",
    time: (init.time ?? new Date()).toISOString(),
  };
  if (init.subject !== undefined) attributes.subject = init.subject;
  Object.assign(attributes, routingExtensions(type, data as Record<string, unknown>));
  for (const [name, value] of Object.entries(init.extensions ?? {})) {
    if (value !== undefined) attributes[name] = value;
  }
  return { attributes, data: jsonBytes(data) };
}

/** The routing extensions an event of this type carries for this data (consumers check that they agree). */
export function routingExtensions(type: EventType, data: Record<string, unknown>): Record<string, string> {
  const ext: Record<string, string> = {};
  const set = (name: string, value: unknown) => {
    if (typeof value === "string" && value !== "") ext[name] = value;
  };
  set(EXT_INSTANCE, data.instance);
  set(EXT_RUN, data.runId);
  if (type === T.TOOL_REQUESTED) set(EXT_SKILL, data.skill);
  if (type === T.MESSAGE_SEND) set(EXT_CHANNEL, (data.route as { channel?: string } | undefined)?.channel);
  if (type === T.APPROVAL_REQUESTED || type === T.APPROVAL_RESOLVED) {
    set(EXT_CHANNEL, (data.replyTo as { channel?: string } | undefined)?.channel);
  }
  if (type === T.MESSAGE_RECEIVED) set(EXT_CHANNEL, data.channel);
  if (type === T.TIMER_FIRED) set(EXT_TARGET, data.target);
  return ext;
}

/**
 * Deterministic id for a derived event: the same run, step and call always yield the same id, so a retried step
 * re-emits identical ids and every consumer's de-duplication on `id` absorbs the repeat (ARCHITECTURE.md, "Events").
 */
export function derivedEventId(...parts: Array<string | number>): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(String(part)).update("\u0000");
  return `kc-${hash.digest("hex").slice(0, 40)}`;
}

/** Thrown when an event's data does not match its type's schema: receivers answer 400 (not retryable). */
class EventDataError extends CloudEventError {
  readonly issues: z.core.$ZodIssue[];
  constructor(type: string, issues: z.core.$ZodIssue[]) {
    const first = issues[0];
    const where = first ? `${first.path.join(".") || "(root)"}: ${first.message}` : "invalid";
    super(400, `data of ${type} is invalid: ${where}`);
    this.issues = issues;
  }
}

/** Parse and validate a received event's data as the given type. */
export function readEvent<K extends EventType>(event: CloudEvent, type: K): EventData<K> {
  if (event.attributes.type !== type) {
    throw new CloudEventError(400, `expected an event of type ${type}, got ${event.attributes.type ?? "none"}`);
  }
  let json: unknown;
  try {
    json = dataAsJson(event);
  } catch {
    throw new CloudEventError(400, `data of ${type} is not JSON`);
  }
  const schema = EVENT_SCHEMAS[type] as unknown as z.ZodType<EventData<K>>;
  const parsed = schema.safeParse(json ?? {});
  if (!parsed.success) throw new EventDataError(type, parsed.error.issues);
  return parsed.data;
}
