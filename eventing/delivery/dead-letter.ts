import { type CloudEvent, withAttributes } from "../cloudevent/event.ts";

/**
 * The error extensions Knative puts on an event it dead-letters (pkg/channel/attributes, dispatchExecutionInfoTransformers
 * in pkg/kncloudevents/event_dispatcher.go): the destination that failed, the last status (500 when no response came
 * back), and the last response body base64-encoded and cut to 1024 characters. The cut is applied to the base64 text,
 * as Knative does, so a long body yields a truncated (not re-padded) base64 string. Empty bodies add no data extension.
 */
export const EXT_ERROR_DEST = "knativeerrordest";
export const EXT_ERROR_CODE = "knativeerrorcode";
export const EXT_ERROR_DATA = "knativeerrordata";
const ERROR_DATA_MAX_CHARS = 1024;

export interface DeliveryFailure {
  destination: string;
  status: number | undefined;
  body: Uint8Array;
}

export function withErrorExtensions(event: CloudEvent, failure: DeliveryFailure): CloudEvent {
  const data = Buffer.from(failure.body.buffer, failure.body.byteOffset, failure.body.byteLength)
    .toString("base64")
    .slice(0, ERROR_DATA_MAX_CHARS);
  return withAttributes(event, {
    [EXT_ERROR_DEST]: failure.destination,
    [EXT_ERROR_CODE]: String(failure.status ?? 500),
    [EXT_ERROR_DATA]: data === "" ? undefined : data,
  });
}
