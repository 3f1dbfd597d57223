import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

/**
 * An OTLP/HTTP receiver on loopback for the telemetry tests: it takes `/v1/traces`, `/v1/metrics` and `/v1/logs` in
 * protobuf and decodes them with the protobufjs code generated from the official opentelemetry-proto files (shipped by
 * @opentelemetry/otlp-transformer 0.57, installed as otlp-protobuf-definitions), then keeps flat views of what came.
 */
const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated protobufjs code without usable types here.
const proto = (require("otlp-protobuf-definitions/build/src/generated/root.js") as any).opentelemetry.proto;

type KeyValue = { key: string; value: Record<string, unknown> };
type Attributes = Record<string, unknown>;

interface ReceivedSpan {
  service: string;
  resource: Attributes;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Attributes;
  events: Array<{ name: string; attributes: Attributes }>;
  status: { code: number; message: string };
}

interface ReceivedMetric {
  name: string;
  unit: string;
  points: Array<{ attributes: Attributes; value: number }>;
}

interface ReceivedLog {
  service: string;
  traceId: string;
  spanId: string;
  body: string;
  severity: string;
  attributes: Attributes;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  logs: ReceivedLog[];
  /** Content types of the requests, to see the protocol the exporters used. */
  contentTypes: Set<string>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: OtlpReceiver = {
    url: "",
    spans: [],
    metrics: [],
    logs: [],
    contentTypes: new Set(),
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      received.contentTypes.add(String(req.headers["content-type"]));
      try {
        if (req.url === "/v1/traces") collectSpans(body, received.spans);
        else if (req.url === "/v1/metrics") collectMetrics(body, received.metrics);
        else if (req.url === "/v1/logs") collectLogs(body, received.logs);
        else {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  received.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  received.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return received;
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("hex");

function value(v: Record<string, unknown> | undefined): unknown {
  if (v === undefined || v === null) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  if ("arrayValue" in v) {
    const values = (v.arrayValue as { values?: Record<string, unknown>[] }).values ?? [];
    return values.map((item) => value(item));
  }
  return undefined;
}

function attrs(list: KeyValue[] | undefined): Attributes {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

function decode(type: { decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): unknown }, body: Buffer) {
  // biome-ignore lint/suspicious/noExplicitAny: the generated message shape.
  return type.toObject(type.decode(body), { longs: String, bytes: Array, defaults: false }) as any;
}

function collectSpans(body: Buffer, into: ReceivedSpan[]): void {
  const request = decode(proto.collector.trace.v1.ExportTraceServiceRequest, body);
  for (const rs of request.resourceSpans) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        into.push({
          service: String(resource["service.name"]),
          resource,
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind ?? 0,
          attributes: attrs(span.attributes),
          events: (span.events ?? []).map((e: { name: string; attributes: KeyValue[] }) => ({
            name: e.name,
            attributes: attrs(e.attributes),
          })),
          status: { code: span.status?.code ?? 0, message: span.status?.message ?? "" },
        });
      }
    }
  }
}

function collectMetrics(body: Buffer, into: ReceivedMetric[]): void {
  const request = decode(proto.collector.metrics.v1.ExportMetricsServiceRequest, body);
  for (const rm of request.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const metric of sm.metrics) {
        const data = metric.sum ?? metric.gauge ?? metric.histogram;
        const points = (data?.dataPoints ?? []).map(
          (p: { attributes: KeyValue[]; asInt?: string; asDouble?: number; sum?: number; count?: string }) => ({
            attributes: attrs(p.attributes),
            value: metric.histogram ? Number(p.count) : Number(p.asInt ?? p.asDouble ?? 0),
          }),
        );
        into.push({ name: metric.name, unit: metric.unit, points });
      }
    }
  }
}

function collectLogs(body: Buffer, into: ReceivedLog[]): void {
  const request = decode(proto.collector.logs.v1.ExportLogsServiceRequest, body);
  for (const rl of request.resourceLogs) {
    const resource = attrs(rl.resource?.attributes);
    for (const sl of rl.scopeLogs) {
      for (const record of sl.logRecords) {
        into.push({
          service: String(resource["service.name"]),
          traceId: hex(record.traceId),
          spanId: hex(record.spanId),
          body: String(value(record.body) ?? ""),
          severity: record.severityText,
          attributes: attrs(record.attributes),
        });
      }
    }
  }
}
