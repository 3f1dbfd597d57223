import { Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { RUN_BACKSTOP_MS } from "../runs/lua.ts";
import { GET_BLOB, PUT_BLOB } from "./lua.ts";
import type { BlobStore, BlobWrite } from "./store.ts";

const put = new Script(PUT_BLOB);
const get = new Script(GET_BLOB);

/** Run blobs on Redis: one hash per run in the instance's slot (scripts in lua.ts). */
export class RedisBlobStore implements BlobStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async put(instance: string, runId: string, input: BlobWrite): Promise<void> {
    const { keys, client } = this.#ctx;
    await put.run(
      client,
      [keys.runBlobs(instance, runId), keys.run(instance, runId)],
      [input.sha256, input.content, input.now, input.retentionMs, RUN_BACKSTOP_MS],
    );
  }

  async get(instance: string, runId: string, sha256: string, now: number): Promise<string | undefined> {
    const { keys, client } = this.#ctx;
    const content = await get.run<string | null>(
      client,
      [keys.runBlobs(instance, runId), keys.run(instance, runId)],
      [sha256, now],
    );
    return content ?? undefined;
  }
}
