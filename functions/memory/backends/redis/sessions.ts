import type {
  AppendInput,
  AppendOutcome,
  CompactInput,
  CompactResult,
  GenerationGuarded,
  OffsetPage,
  ReadInput,
  ResetInput,
  SessionActivity,
  StoredWindow,
  TrimInput,
  TrimOutcome,
} from "../backend.ts";
import { guard, Script, toStoreError } from "./connection.ts";
import type { RedisContext } from "./context.ts";
import { APPEND, COMPACT, READ, RESET, TRIM } from "./lua/sessions.ts";

const append = new Script(APPEND);
const read = new Script(READ, { readOnly: true });
const trim = new Script(TRIM);
const compact = new Script(COMPACT);
const reset = new Script(RESET);

/** A stored record is `<tokens>|<json>`; answers carry the JSON as stored. */
function jsonOf(record: string): string {
  return record.slice(record.indexOf("|") + 1);
}

function windowOf(generation: number, total: number, summaryJson: string | null, items: string[]): StoredWindow {
  return {
    generation,
    expired: false,
    summaryJson,
    messagesJson: items.map(jsonOf),
    total,
    truncated: items.length < total,
  };
}

type Transaction = ReturnType<RedisContext["client"]["multi"]>;

/** EXEC's replies; a command's own failure comes back in its slot, a connection failure rejects. */
async function exec(transaction: Transaction): Promise<Array<[Error | null, unknown]>> {
  return ((await guard(() => transaction.exec())) ?? []) as Array<[Error | null, unknown]>;
}

type AppendReply = [number, number, number, number, string[], number?, string?, string[]?];

/**
 * A window of the last N messages is read with plain LRANGE in the append's transaction: Lua would copy each record
 * into a Lua string and back (several times the cost). Only token-budget windows, which must look at each record's
 * token count, are cut inside the script.
 */
export async function appendMessages(
  ctx: RedisContext,
  instance: string,
  session: string,
  input: AppendInput,
): Promise<AppendOutcome> {
  const { keys } = ctx;
  const meta = keys.sessionMeta(instance, session);
  const list = keys.sessionMessages(instance, session);
  const scriptKeys = [meta, list, keys.sessionIds(instance, session), keys.sessions(instance)];
  const window = input.window;
  const native = window !== undefined && window.maxTokens === undefined;
  const args: Array<string | number> = [
    session,
    input.now,
    input.resetBefore,
    window && !native ? 1 : 0,
    window?.last ?? 0,
    window?.maxTokens ?? -1,
    input.messages.length,
  ];
  for (const message of input.messages) args.push(message.id, `${message.tokens}|${message.json}`);
  if (native) {
    const transaction = ctx.client
      .multi()
      .evalsha(append.sha, scriptKeys.length, ...scriptKeys, ...args)
      .hget(meta, "sum");
    if (window.last > 0) transaction.lrange(list, -window.last, -1);
    const replies = await exec(transaction);
    const [scriptError, reply] = replies[0] ?? [null, null];
    // NOSCRIPT (Redis restarted and lost its script cache): nothing was applied; the script path below loads it.
    if (!scriptError) {
      const [generation, wasReset, appended, total, duplicates] = reply as AppendReply;
      const summary = (replies[1]?.[1] as string | null | undefined) ?? null;
      const items = (replies[2]?.[1] as string[] | undefined) ?? [];
      const window = windowOf(generation, total, summary, items);
      return { generation, reset: wasReset === 1, appended, duplicates, total, window };
    }
    if (!scriptError.message.startsWith("NOSCRIPT")) throw toStoreError(scriptError);
    args[3] = 1;
  }
  const [generation, wasReset, appended, total, duplicates, hasSummary, summary, items] = await append.run<AppendReply>(
    ctx.client,
    scriptKeys,
    args,
  );
  const outcome: AppendOutcome = { generation, reset: wasReset === 1, appended, duplicates, total };
  if (window) outcome.window = windowOf(generation, total, hasSummary === 1 ? summary! : null, items ?? []);
  return outcome;
}

export async function readSession(
  ctx: RedisContext,
  instance: string,
  session: string,
  input: ReadInput,
): Promise<StoredWindow> {
  if (input.window.maxTokens === undefined) return readLast(ctx, instance, session, input);
  type Reply = [number, number, number, number, string, string[]];
  const [generation, expired, total, hasSummary, summary, items] = await read.run<Reply>(
    ctx.client,
    [ctx.keys.sessionMeta(instance, session), ctx.keys.sessionMessages(instance, session)],
    [input.resetBefore, input.window.last, input.window.maxTokens ?? -1],
  );
  if (expired === 1) {
    return { generation, expired: true, summaryJson: null, messagesJson: [], total: 0, truncated: false };
  }
  return windowOf(generation, total, hasSummary === 1 ? summary : null, items);
}

/** The last N messages without a script: one transaction reading the meta, the length and the tail of the list. */
async function readLast(ctx: RedisContext, instance: string, session: string, input: ReadInput): Promise<StoredWindow> {
  const list = ctx.keys.sessionMessages(instance, session);
  const transaction = ctx.client.multi().hmget(ctx.keys.sessionMeta(instance, session), "gen", "at", "sum").llen(list);
  if (input.window.last > 0) transaction.lrange(list, -input.window.last, -1);
  const replies = await exec(transaction);
  for (const [error] of replies) if (error) throw toStoreError(error);
  const [generation, activeAt, summary] = replies[0]![1] as [string | null, string | null, string | null];
  const items = (replies[2]?.[1] as string[] | undefined) ?? [];
  const gen = Number(generation ?? 0);
  if (activeAt === null)
    return { generation: gen, expired: false, summaryJson: null, messagesJson: [], total: 0, truncated: false };
  if (Number(activeAt) < input.resetBefore) {
    return { generation: gen, expired: true, summaryJson: null, messagesJson: [], total: 0, truncated: false };
  }
  return windowOf(gen, replies[1]![1] as number, summary, items);
}

export async function trimSession(
  ctx: RedisContext,
  instance: string,
  session: string,
  input: TrimInput,
): Promise<GenerationGuarded<TrimOutcome>> {
  const reply = await trim.run<[number, number, number?, number?]>(
    ctx.client,
    [ctx.keys.sessionMeta(instance, session), ctx.keys.sessionMessages(instance, session)],
    [input.keepLast, input.expectedGeneration ?? -1],
  );
  if (reply[0] === 0) return { ok: false, generation: reply[1] };
  return { ok: true, generation: reply[1], removed: reply[2] ?? 0, total: reply[3] ?? 0 };
}

export async function compactSession(
  ctx: RedisContext,
  instance: string,
  session: string,
  input: CompactInput,
): Promise<CompactResult> {
  const { keys } = ctx;
  const reply = await compact.run<[number, number?, number?, number?, number?, string?]>(
    ctx.client,
    [keys.sessionMeta(instance, session), keys.sessionMessages(instance, session), keys.sessionIds(instance, session)],
    [input.throughId, input.summaryJson, input.summaryTokens, input.expectedGeneration ?? -1],
  );
  if (reply[0] === -1) return { kind: "unknown_message" };
  if (reply[0] === 0) return { kind: "generation_mismatch", generation: reply[1] ?? 0 };
  return {
    kind: "ok",
    generation: reply[1] ?? 0,
    removed: reply[2] ?? 0,
    total: reply[3] ?? 0,
    alreadyCompacted: reply[4] === 1,
    summaryJson: reply[5] ? reply[5] : null,
  };
}

export async function resetSession(
  ctx: RedisContext,
  instance: string,
  session: string,
  input: ResetInput,
): Promise<GenerationGuarded<{ generation: number }>> {
  const { keys } = ctx;
  const [ok, generation] = await reset.run<[number, number]>(
    ctx.client,
    [
      keys.sessionMeta(instance, session),
      keys.sessionMessages(instance, session),
      keys.sessionIds(instance, session),
      keys.sessions(instance),
    ],
    [session, input.now, input.expectedGeneration ?? -1],
  );
  return ok === 1 ? { ok: true, generation } : { ok: false, generation };
}

export async function listSessions(
  ctx: RedisContext,
  instance: string,
  page: OffsetPage,
): Promise<{ sessions: SessionActivity[]; more: boolean }> {
  const flat = await guard(() =>
    ctx.client.zrevrange(ctx.keys.sessions(instance), page.offset, page.offset + page.limit, "WITHSCORES"),
  );
  const sessions: SessionActivity[] = [];
  for (let i = 0; i < flat.length; i += 2) sessions.push({ sessionKey: flat[i]!, activeAt: Number(flat[i + 1]) });
  return { sessions: sessions.slice(0, page.limit), more: sessions.length > page.limit };
}
