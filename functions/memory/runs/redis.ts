import type { Run, RunStatus } from "../../../clients/memory/contract/runs.ts";
import { keysetPage } from "../paging.ts";
import { execReplies, guard, Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { CREATE_RUN, PURGE_RUNS, RUN_BACKSTOP_MS, UPDATE_RUN } from "./lua.ts";
import type { CreateRunOutcome, RunListing, RunStore, RunUpdate, UpdateRunOutcome } from "./store.ts";

const create = new Script(CREATE_RUN);
const update = new Script(UPDATE_RUN);
const purge = new Script(PURGE_RUNS);

const BACKSTOP_MS = RUN_BACKSTOP_MS;
/** Expired runs deleted per purge pass (a pass runs before each listing and creation). */
const PURGE_BATCH = 100;

type Fields = [string | null, string | null, string | null, string | null, string | null, string | null];

function runKeys(ctx: RedisContext, instance: string, id: string): string[] {
  const { keys } = ctx;
  return [
    keys.run(instance, id),
    keys.runs(instance),
    keys.runsExpiry(instance),
    ...keys.runStatusKeys(instance),
    keys.runBlobs(instance, id),
  ];
}

function toRun(instance: string, id: string, fields: Fields): Run | undefined {
  const [version, status, created, updated, expires, state] = fields;
  if (version === null) return undefined;
  return {
    id,
    instance,
    status: status as RunStatus,
    version: Number(version),
    state: JSON.parse(state ?? "{}") as Run["state"],
    createdAt: Number(created),
    updatedAt: Number(updated),
    expiresAt: expires ? Number(expires) : null,
  };
}

function live(run: Run | undefined, now: number): Run | undefined {
  return run && (run.expiresAt === null || run.expiresAt > now) ? run : undefined;
}

/** Keeps the run id -> instance index alive exactly as long as the run (best effort: it lives in another slot). */
async function followExpiry(ctx: RedisContext, run: Run, now: number): Promise<void> {
  const key = ctx.keys.runOwner(run.id);
  await guard(() =>
    run.expiresAt === null ? ctx.client.persist(key) : ctx.client.pexpire(key, run.expiresAt - now + BACKSTOP_MS),
  );
}

async function purgeExpired(ctx: RedisContext, instance: string, now: number): Promise<void> {
  const { keys } = ctx;
  const members = await guard(() =>
    ctx.client.zrangebyscore(keys.runsExpiry(instance), "-inf", now, "LIMIT", 0, PURGE_BATCH),
  );
  if (members.length === 0) return;
  await purge.run<number>(
    ctx.client,
    [
      keys.runs(instance),
      keys.runs(instance),
      keys.runsExpiry(instance),
      ...keys.runStatusKeys(instance),
      ...members.map((member) => keys.run(instance, member.slice(16))),
      ...members.map((member) => keys.runBlobs(instance, member.slice(16))),
    ],
    [now, ...members],
  );
}

/** Runs on Redis (scripts in lua.ts). */
export class RedisRunStore implements RunStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async create(instance: string, run: Run): Promise<CreateRunOutcome> {
    const ownerKey = this.#ctx.keys.runOwner(run.id);
    // The index entry is written first: a run id another instance holds is refused before anything is created.
    const claimed = await guard(() => this.#ctx.client.set(ownerKey, instance, "NX"));
    if (claimed === null) {
      const owner = await guard(() => this.#ctx.client.get(ownerKey));
      if (owner !== null && owner !== instance) return { kind: "conflict" };
      if (owner === null) await guard(() => this.#ctx.client.set(ownerKey, instance));
    }
    await purgeExpired(this.#ctx, instance, run.createdAt);
    const [created, fields] = await create.run<[number, Fields]>(
      this.#ctx.client,
      runKeys(this.#ctx, instance, run.id),
      [
        run.id,
        run.createdAt,
        run.status,
        JSON.stringify(run.state),
        run.expiresAt ?? "",
        BACKSTOP_MS + (run.expiresAt === null ? 0 : run.expiresAt - run.createdAt),
      ],
    );
    const stored = toRun(instance, run.id, fields)!;
    if (created === 1 && stored.expiresAt !== null) await followExpiry(this.#ctx, stored, run.createdAt);
    return created === 1 ? { kind: "created", run: stored } : { kind: "exists", run: stored };
  }

  async get(instance: string, id: string, now: number): Promise<Run | undefined> {
    const fields = (await guard(() =>
      this.#ctx.client.hmget(this.#ctx.keys.run(instance, id), "v", "s", "c", "t", "x", "st"),
    )) as Fields;
    return live(toRun(instance, id, fields), now);
  }

  async find(id: string, now: number): Promise<Run | undefined> {
    const owner = await guard(() => this.#ctx.client.get(this.#ctx.keys.runOwner(id)));
    return owner === null ? undefined : this.get(owner, id, now);
  }

  async update(instance: string, id: string, input: RunUpdate): Promise<UpdateRunOutcome> {
    const reply = await update.run<[string, (Fields | number)?]>(this.#ctx.client, runKeys(this.#ctx, instance, id), [
      id,
      input.now,
      input.expectedVersion,
      input.status ?? "",
      input.state === undefined ? 0 : 1,
      input.state === undefined ? "" : JSON.stringify(input.state),
      input.updateId ?? "",
      input.retentionMs,
      BACKSTOP_MS,
    ]);
    if (reply[0] === "missing") return { kind: "missing" };
    if (reply[0] === "conflict") return { kind: "version_mismatch", version: Number(reply[1]) };
    const run = toRun(instance, id, reply[1] as Fields)!;
    await followExpiry(this.#ctx, run, input.now);
    return { kind: "ok", run };
  }

  async list(instance: string, input: RunListing): Promise<{ runs: Run[]; next: string | null }> {
    const { keys, client } = this.#ctx;
    await purgeExpired(this.#ctx, instance, input.now);
    const index = input.status === undefined ? keys.runs(instance) : keys.runsByStatus(instance, input.status);
    const members = await guard(() =>
      client.zrevrangebylex(
        index,
        input.after === undefined ? "+" : `(${input.after}`,
        "-",
        "LIMIT",
        0,
        input.limit + 1,
      ),
    );
    const { shown, next } = keysetPage(members, input.limit, (member) => member);
    const pipeline = client.pipeline();
    for (const member of shown) pipeline.hmget(keys.run(instance, member.slice(16)), "v", "s", "c", "t", "x", "st");
    const replies = shown.length === 0 ? [] : await execReplies(pipeline);
    const runs: Run[] = [];
    replies.forEach((fields, i) => {
      const run = live(toRun(instance, shown[i]!.slice(16), fields as Fields), input.now);
      if (run) runs.push(run);
    });
    return { runs, next };
  }
}
