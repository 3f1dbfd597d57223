import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { HTTP, CloudEvent as SdkCloudEvent } from "cloudevents";
import type { Command } from "commander";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { ATTRIBUTE_NAME } from "../../eventing/cloudevent/validate.ts";
import { operatorSigningKey, signAsOperator } from "../operator-signing.ts";
import { readSessionToken } from "../session-tokens.ts";

/**
 * `knclaw send`: post one CloudEvent to a broker, like `kn event send`. Data comes from --data (JSON text),
 * --data-file, or --field key=value pairs (dotted keys nest, values parsed as JSON when they are JSON), and
 * --extension key=value adds attributes. Binary mode unless --structured. Exits non-zero unless the broker accepts.
 * The event goes out encoded by the official `cloudevents` SDK, as any third-party producer's would (kn event send
 * uses the Go SDK), so the CLI never shares an encoder with the broker it talks to.
 *
 * knclaw's functions act only on events their producer signed (eventing/trust/README.md), so an event sent as is
 * reaches the broker and is refused by its consumer. `--sign` signs it as the `operator` role, which may start a run
 * that names no requester or session, and nothing else (cli/operator-signing.ts says why and where the key is from).
 */
interface SendOptions {
  to?: string;
  url?: string;
  broker?: string;
  type: string;
  source?: string;
  id?: string;
  subject?: string;
  data?: string;
  dataFile?: string;
  field?: string[];
  extension?: string[];
  contentType?: string;
  structured?: boolean;
  tokenFile?: string;
  sign?: boolean;
  signingKeyFile?: string;
  fetch?: typeof fetch;
}

const TOKEN_ENV = "KNCLAW_BROKER_TOKEN";

/**
 * The sender's OIDC token, for a broker that authenticates senders (Knative's authentication-oidc; `knclaw dev` by
 * default): --token-file, else $KNCLAW_BROKER_TOKEN, else the file `knclaw dev` keeps for its port. None: the event
 * goes without one, as to a broker that asks for none.
 */
function senderToken(options: SendOptions, target: string): string | undefined {
  if (options.tokenFile !== undefined) {
    const token = readFileSync(options.tokenFile, "utf8").trim();
    if (!token) throw new Error(`${options.tokenFile} is empty`);
    return token;
  }
  return process.env[TOKEN_ENV] || readSessionToken("broker", target);
}

interface SendResult {
  target: string;
  status: number;
  body: string;
  event: CloudEvent;
}

function buildEvent(options: SendOptions): CloudEvent {
  if (!options.type) throw new Error("--type is required");
  const attributes: Record<string, string> = {
    specversion: "1.0",
    id: options.id ?? randomUUID(),
    source: options.source ?? "knclaw/cli",
    type: options.type,
    time: new Date().toISOString(),
  };
  if (options.subject !== undefined) attributes.subject = options.subject;
  for (const pair of options.extension ?? []) {
    const [name, value] = splitPair(pair, "--extension");
    if (!ATTRIBUTE_NAME.test(name))
      throw new Error(`--extension ${name}: attribute names are lowercase letters and digits`);
    attributes[name] = value;
  }
  const sources = [options.data !== undefined, options.dataFile !== undefined, (options.field ?? []).length > 0].filter(
    Boolean,
  );
  if (sources.length > 1) throw new Error("use one of --data, --data-file, --field");
  let data: Uint8Array | undefined;
  if (options.data !== undefined) data = new TextEncoder().encode(options.data);
  else if (options.dataFile !== undefined) data = readFileSync(options.dataFile);
  else if ((options.field ?? []).length > 0)
    data = new TextEncoder().encode(JSON.stringify(fieldsToObject(options.field!)));
  if (data !== undefined) attributes.datacontenttype = options.contentType ?? "application/json";
  return data === undefined ? { attributes } : { attributes, data };
}

/**
 * JSON data travels as a value (inline in structured mode); anything else as bytes (data_base64 there). A signed
 * event's data always travels as its bytes: the signature covers them exactly, and re-encoding could change them.
 */
function toSdkEvent(event: CloudEvent, signed: boolean): SdkCloudEvent<unknown> {
  let data: unknown;
  if (event.data !== undefined) {
    data = Buffer.from(event.data);
    if (!signed && /[/+]json(;|$)/.test(event.attributes.datacontenttype ?? "")) {
      try {
        data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(event.data));
      } catch {
        // Not JSON after all: sent as the bytes given.
      }
    }
  }
  return new SdkCloudEvent<unknown>({ ...event.attributes, ...(data === undefined ? {} : { data }) }, true);
}

function splitPair(pair: string, flag: string): [string, string] {
  const eq = pair.indexOf("=");
  if (eq <= 0) throw new Error(`${flag} ${pair}: expected key=value`);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

function fieldsToObject(fields: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const field of fields) {
    const [key, raw] = splitPair(field, "--field");
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    const path = key.split(".");
    let node = root;
    for (const part of path.slice(0, -1)) {
      let next = node[part];
      if (next === null || typeof next !== "object") {
        next = {};
        node[part] = next;
      }
      node = next as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }
  return root;
}

function sendTarget(options: Pick<SendOptions, "to" | "url" | "broker">): string {
  if (options.to) return options.to;
  const base = (options.url ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`).replace(/\/+$/, "");
  const broker = options.broker ?? "knclaw/default";
  if (!/^[^/]+\/[^/]+$/.test(broker)) throw new Error(`--broker ${broker}: expected <namespace>/<broker>`);
  return `${base}/${broker}`;
}

async function runSend(options: SendOptions): Promise<SendResult> {
  const target = sendTarget(options);
  const built = buildEvent(options);
  const signed = options.sign === true;
  if (!signed && options.signingKeyFile !== undefined) throw new Error("--signing-key-file goes with --sign");
  const event = signed ? signAsOperator(built, operatorSigningKey(options.signingKeyFile, target)) : built;
  const sdkEvent = toSdkEvent(event, signed);
  const { headers, body } = options.structured ? HTTP.structured(sdkEvent) : HTTP.binary(sdkEvent);
  const token = senderToken(options, target);
  const response = await (options.fetch ?? fetch)(target, {
    method: "POST",
    headers: {
      ...(headers as Record<string, string>),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: body as RequestInit["body"],
    signal: AbortSignal.timeout(30_000),
  });
  return { target, status: response.status, body: await response.text(), event };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerSendCommand(program: Command): void {
  program
    .command("send")
    .description("send a CloudEvent to a broker (like `kn event send`)")
    .requiredOption("-t, --type <type>", "event type")
    .option("--to <url>", "full URL to post to (instead of --url + --broker)")
    .option("--url <url>", "knclaw dev base URL (default http://127.0.0.1:$PORT or 8080)")
    .option("-b, --broker <namespace/name>", "broker to post to", "knclaw/default")
    .option("-s, --source <source>", "event source", "knclaw/cli")
    .option("-i, --id <id>", "event id (default: a random UUID)")
    .option("--subject <subject>", "event subject")
    .option("-d, --data <json>", "event data")
    .option("--data-file <file>", "event data from a file")
    .option("-f, --field <key=value>", "data field (repeatable; dotted keys nest; JSON values parsed)", collect)
    .option("-e, --extension <key=value>", "extension attribute (repeatable)", collect)
    .option("--content-type <type>", "datacontenttype of the data", "application/json")
    .option("--structured", "send in structured mode (application/cloudevents+json)")
    .option(
      "--token-file <file>",
      `the sender's OIDC token for the broker (default $${TOKEN_ENV}, else the one knclaw dev keeps for its port)`,
    )
    .option(
      "--sign",
      "sign as the operator (role `operator`), which knclaw's functions act on: only a run.requested without requestedBy and sessionKey; the key from --signing-key-file, $KNCLAW_OPERATOR_SIGNING_KEY, or the one knclaw dev keeps for its port",
    )
    .option("--signing-key-file <file>", "the operator's Ed25519 signing key (Secret knclaw-event-keys, key operator)")
    .action(async (options: SendOptions) => {
      const result = await runSend(options);
      if (result.status >= 200 && result.status < 300) {
        process.stdout.write(`sent ${result.event.attributes.id} to ${result.target}: ${result.status}\n`);
        return;
      }
      process.stderr.write(`knclaw send: ${result.target} answered ${result.status}: ${result.body.trim()}\n`);
      process.exitCode = 1;
    });
}
