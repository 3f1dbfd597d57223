import { trace } from "@opentelemetry/api";
import { type LogRecord, logs, SeverityNumber } from "@opentelemetry/api-logs";
import { type DestinationStream, type Logger, pino } from "pino";
import type { FunctionEnv } from "./function.ts";
import { platformVars } from "./platform-env.ts";
import { telemetryRunning } from "./telemetry.ts";

/**
 * JSON logs (pino) with secrets redacted by key wherever they sit in a log object, so a token passed along in an
 * object by mistake never reaches a log line. Messages themselves must never interpolate secrets.
 */
const SECRET_KEYS = [
  "authorization",
  "token",
  "apiKey",
  "api_key",
  "secret",
  "password",
  "signature",
  "cookie",
  "x-api-key",
  "x-slack-signature",
  "x-telegram-bot-api-secret-token",
  "x-hub-signature-256",
  "x-signature-ed25519",
];

export function redactPaths(): string[] {
  return SECRET_KEYS.flatMap((key) => {
    const k = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    const dotted = k.startsWith("[") ? k : `.${k}`;
    return [k, `*${dotted}`, `*.*${dotted}`, `headers${dotted}`, `*.headers${dotted}`];
  });
}

export function createLogger(env: FunctionEnv, component: string): Logger {
  return pino(
    {
      name: component,
      level: env[platformVars.logLevel.name] ?? (env.NODE_ENV === "test" ? "silent" : "info"),
      base: { component, service: env.K_SERVICE, revision: env.K_REVISION },
      redact: { paths: redactPaths(), censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The active span's ids on every line, so a log line leads to its trace (and a trace to its logs).
      mixin: traceIds,
    },
    destination(env[platformVars.logStream.name] === "stderr" ? 2 : 1),
  );
}

function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan()?.spanContext();
  if (span === undefined || !trace.isSpanContextValid(span)) return {};
  return { trace_id: span.traceId, span_id: span.spanId };
}

/**
 * Standard output (standard error with `KNCLAW_LOG_STREAM=stderr`, as under `knclaw dev`), and, while the
 * OpenTelemetry SDK exports (runtime/telemetry.ts), the OpenTelemetry logs API too. pino writes synchronously from the
 * logging call, so the record is emitted in the caller's context and the SDK stamps it with the active trace; the
 * line is already redacted.
 */
function destination(fd: 1 | 2): DestinationStream {
  const stream = pino.destination({ dest: fd, sync: true });
  return {
    write(line: string) {
      stream.write(line);
      if (telemetryRunning()) logs.getLogger("knclaw").emit(logRecord(line));
    },
  };
}

const SEVERITY: Record<number, [SeverityNumber, string]> = {
  10: [SeverityNumber.TRACE, "TRACE"],
  20: [SeverityNumber.DEBUG, "DEBUG"],
  30: [SeverityNumber.INFO, "INFO"],
  40: [SeverityNumber.WARN, "WARN"],
  50: [SeverityNumber.ERROR, "ERROR"],
  60: [SeverityNumber.FATAL, "FATAL"],
};

function logRecord(line: string): LogRecord {
  const { level, msg, time, trace_id: _t, span_id: _s, ...fields } = JSON.parse(line) as Record<string, unknown>;
  const [severityNumber, severityText] = SEVERITY[level as number] ?? [SeverityNumber.UNSPECIFIED, "UNSPECIFIED"];
  const attributes: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    attributes[key] = typeof value === "object" ? JSON.stringify(value) : (value as string | number | boolean);
  }
  return {
    severityNumber,
    severityText,
    body: typeof msg === "string" ? msg : "",
    attributes,
    ...(typeof time === "string" ? { timestamp: new Date(time) } : {}),
  };
}

export type { Logger };
