import { type Logger, pino } from "pino";
import type { FunctionEnv } from "./function.ts";
import { platformVars } from "./platform-env.ts";

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
  return pino({
    name: component,
    level: env[platformVars.logLevel.name] ?? (env.NODE_ENV === "test" ? "silent" : "info"),
    base: { component, service: env.K_SERVICE, revision: env.K_REVISION },
    redact: { paths: redactPaths(), censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type { Logger };
