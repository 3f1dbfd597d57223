import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import type {
  DeadLetter,
  DeadLetterSummary,
  ListDeadLettersResponse,
} from "../../clients/memory/contract/dead-letters.ts";
import { deadletterEnv } from "../../functions/deadletter/env.ts";
import { DEFAULT_DEADLETTER_TOKEN } from "../../runtime/names.ts";
import { upperSnake } from "../dev/secrets.ts";
import { publishSessionToken, resolveToken, sessionTokenPath } from "../session-tokens.ts";

/**
 * `knclaw dlq list|show|replay|delete`: the dead letters the deadletter function keeps, through its operator API
 * (/v1/deadletters). The URL comes from --url or KNCLAW_DEADLETTER_URL (default: the deadletter function on the local
 * `knclaw dev` port, /functions/deadletter). The token comes from --token-file, else KNCLAW_DEADLETTER_TOKEN, else
 * (for a local URL) the token file `knclaw dev` wrote for that port; never from a flag value, so it stays out of
 * shell history and the process list.
 */
export interface DlqOptions {
  url?: string;
  tokenFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
}

export interface DlqListOptions extends DlqOptions {
  instance?: string;
  type?: string;
  destination?: string;
  limit?: string;
  cursor?: string;
  /** Follow cursors until the listing ends. */
  all?: boolean;
  json?: boolean;
}

/** The deadletter function's token variable, which the CLI reads from the operator's environment too. */
const TOKEN_ENV = deadletterEnv.names.apiToken;
/** The `<SECRET>_<KEY>` name `knclaw dev` also reads for the default Secret reference knclaw-deadletter/api-token. */
const DEFAULT_REF_ENV = upperSnake(`${DEFAULT_DEADLETTER_TOKEN.secret}_${DEFAULT_DEADLETTER_TOKEN.key}`);
const DEV_PATH = "/functions/deadletter";

function dlqBaseUrl(options: DlqOptions): string {
  const env = options.env ?? process.env;
  const url = options.url ?? env.KNCLAW_DEADLETTER_URL ?? `http://127.0.0.1:${env.PORT || 8080}${DEV_PATH}`;
  return url.replace(/\/+$/, "");
}

// The dev session's token (cli/session-tokens.ts) ------------------------------------------------------------

export function devTokenPath(port: number): string {
  return sessionTokenPath("deadletter", port);
}

/**
 * The token `knclaw dev` gives the deadletter function when the environment names none: a random one per session
 * (set as KNCLAW_DEADLETTER_TOKEN, which the dev secret resolver hands to the function). Undefined when the
 * environment has one already.
 */
export function devDeadLetterToken(env: Record<string, string | undefined>): string | undefined {
  if (env[TOKEN_ENV] || env[DEFAULT_REF_ENV]) return undefined;
  const token = randomBytes(32).toString("base64url");
  env[TOKEN_ENV] = token;
  return token;
}

/**
 * What `knclaw dev` prints about the dead-letter API once it listens: where it is and where its token is (never the
 * token itself), and a cleanup that removes the token file at shutdown.
 */
export function announceDevDeadLetters(
  url: string,
  port: number,
  generated: string | undefined,
): { lines: string[]; cleanup: () => void } {
  const api = `${url}${DEV_PATH}/v1/deadletters`;
  if (generated === undefined) {
    return { lines: ["", `Dead letters: ${api}  (token: $${TOKEN_ENV}; knclaw dlq list)`], cleanup: () => {} };
  }
  const published = publishSessionToken("deadletter", port, generated);
  const where =
    published.path !== undefined
      ? `token for this session in ${published.path}`
      : `no token file: ${published.problem}; set ${TOKEN_ENV} before knclaw dev`;
  return { lines: ["", `Dead letters: ${api}  (${where}; knclaw dlq list)`], cleanup: published.cleanup };
}

function dlqToken(options: DlqOptions): string {
  return resolveToken({
    tokenFile: options.tokenFile,
    env: options.env ?? process.env,
    envName: TOKEN_ENV,
    api: "deadletter",
    baseUrl: dlqBaseUrl(options),
    what: "dead-letter",
  });
}

// The API ------------------------------------------------------------------------------------------------------

async function call<T>(options: DlqOptions, method: string, path: string): Promise<T | undefined> {
  const base = dlqBaseUrl(options);
  const response = await (options.fetch ?? fetch)(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${dlqToken(options)}`, accept: "application/json" },
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) {
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new Error(`the dead-letter API answered ${response.status}: ${message}`);
  }
  return text === "" ? undefined : (JSON.parse(text) as T);
}

const seg = encodeURIComponent;

export async function dlqList(options: DlqListOptions): Promise<ListDeadLettersResponse> {
  const out: DeadLetterSummary[] = [];
  let cursor = options.cursor;
  for (;;) {
    const query = new URLSearchParams();
    for (const name of ["instance", "type", "destination", "limit"] as const) {
      const value = options[name];
      if (value !== undefined) query.set(name, value);
    }
    if (cursor !== undefined) query.set("cursor", cursor);
    const suffix = query.size > 0 ? `?${query}` : "";
    const page = (await call<ListDeadLettersResponse>(options, "GET", `/v1/deadletters${suffix}`))!;
    out.push(...page.deadLetters);
    if (!options.all || page.nextCursor === null) return { deadLetters: out, nextCursor: page.nextCursor };
    cursor = page.nextCursor;
  }
}

export async function dlqShow(id: string, options: DlqOptions): Promise<DeadLetter> {
  return (await call<{ deadLetter: DeadLetter }>(options, "GET", `/v1/deadletters/${seg(id)}`))!.deadLetter;
}

export interface ReplayResult {
  replayed: { id: string; source: string; type: string };
  deadLetter: DeadLetterSummary | null;
}

export async function dlqReplay(id: string, options: DlqOptions): Promise<ReplayResult> {
  return (await call<ReplayResult>(options, "POST", `/v1/deadletters/${seg(id)}/replay`))!;
}

export async function dlqDelete(id: string, options: DlqOptions): Promise<void> {
  await call<undefined>(options, "DELETE", `/v1/deadletters/${seg(id)}`);
}

// Output -------------------------------------------------------------------------------------------------------

const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

function formatSummary(entry: DeadLetterSummary): string {
  const a = entry.attributes;
  const code = entry.error.code ?? "-";
  const replays = entry.replayCount > 0 ? `  replayed ${entry.replayCount}x (last ${iso(entry.replayedAt)})` : "";
  const again = entry.receivedCount > 1 ? `  arrived ${entry.receivedCount}x` : "";
  return `${entry.id}  ${iso(entry.receivedAt)}  ${code}  ${a.type}  id=${a.id}  ${a.knclawinstance ?? "-"}  -> ${entry.error.destination ?? "-"}${again}${replays}`;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function formatDeadLetter(entry: DeadLetter): string {
  const lines = [
    `id:           ${entry.id}`,
    `received:     ${iso(entry.receivedAt)} (last ${iso(entry.lastReceivedAt)}, ${entry.receivedCount}x)`,
    `replayed:     ${entry.replayCount}x${entry.replayedAt === null ? "" : ` (last ${iso(entry.replayedAt)})`}`,
    `expires:      ${iso(entry.expiresAt)}`,
    `failed at:    ${entry.error.destination ?? "-"}`,
    `status:       ${entry.error.code ?? "-"}`,
  ];
  if (entry.error.text !== null) lines.push(`error:        ${entry.error.text}`);
  else if (entry.error.data !== null) lines.push(`error (b64):  ${entry.error.data}`);
  lines.push("attributes:");
  for (const [name, value] of Object.entries(entry.attributes).sort(([x], [y]) => (x < y ? -1 : 1))) {
    lines.push(`  ${name}: ${value}`);
  }
  if (entry.dataBase64 === null) {
    lines.push("data:         (none)");
  } else {
    const bytes = Buffer.from(entry.dataBase64, "base64");
    let text: string | undefined;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      text = undefined;
    }
    lines.push(
      text === undefined
        ? `data (base64, ${bytes.length} bytes): ${entry.dataBase64}`
        : `data (${bytes.length} bytes):`,
    );
    if (text !== undefined) lines.push(text);
  }
  return lines.join("\n");
}

export function registerDlqCommand(program: Command): void {
  const dlq = program
    .command("dlq")
    .description("list, show, replay and delete failed deliveries kept by the deadletter function");
  const common = (command: Command) =>
    command
      .option(
        "--url <url>",
        "deadletter function base URL (default $KNCLAW_DEADLETTER_URL or the local knclaw dev port)",
      )
      .option("--token-file <file>", "read the API token from this file (default $KNCLAW_DEADLETTER_TOKEN)");
  common(dlq.command("list").description("list dead letters, newest first"))
    .option("-i, --instance <name>", "only events of this agent instance (knclawinstance)")
    .option("-t, --type <type>", "only events of this type")
    .option("-d, --destination <url>", "only deliveries that failed at this destination")
    .option("-n, --limit <n>", "entries per page (1-200)")
    .option("--cursor <cursor>", "continue a listing")
    .option("-a, --all", "follow the cursor to the end")
    .option("--json", "print the API's JSON")
    .action(async (options: DlqListOptions) => {
      const page = await dlqList(options);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
        return;
      }
      if (page.deadLetters.length === 0) process.stdout.write("no dead letters\n");
      for (const entry of page.deadLetters) process.stdout.write(`${formatSummary(entry)}\n`);
      if (page.nextCursor !== null) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    });
  common(dlq.command("show <id>").description("show one dead letter with its error and data"))
    .option("--json", "print the API's JSON")
    .action(async (id: string, options: DlqOptions & { json?: boolean }) => {
      const entry = await dlqShow(id, options);
      process.stdout.write(
        options.json ? `${JSON.stringify({ deadLetter: entry }, null, 2)}\n` : `${formatDeadLetter(entry)}\n`,
      );
    });
  common(dlq.command("replay <id>").description("send the original event to the broker again (same id)")).action(
    async (id: string, options: DlqOptions) => {
      const result = await dlqReplay(id, options);
      process.stdout.write(
        `replayed ${result.replayed.type} id=${result.replayed.id} from ${result.replayed.source}\n`,
      );
    },
  );
  common(dlq.command("delete <id>").description("forget a dead letter")).action(
    async (id: string, options: DlqOptions) => {
      await dlqDelete(id, options);
      process.stdout.write(`deleted ${id}\n`);
    },
  );
}
