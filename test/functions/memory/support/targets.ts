import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ownRedis } from "../../../support/redis-server.ts";
import { deleteKeys, SHARED_REDIS, uniquePrefix } from "./harness.ts";

/**
 * Where the contract suite runs: the embedded backend in memory and in a SQLite file of its own (what `knclaw dev`
 * keeps across restarts), the local Redis (isolated by a unique key prefix), and a single-node Redis Cluster of the
 * suite's own, where any script or transaction touching two slots fails, which proves that the key schema keeps
 * every multi-key operation in one slot.
 */
export interface Target {
  name: string;
  open(): Promise<{ env: Record<string, string>; teardown(): Promise<void> }>;
}

async function clusterReady(url: string): Promise<void> {
  const admin = new Redis(url);
  try {
    await admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
    // The node reports the cluster usable once its state settles; wait for that, not for a fixed time.
    const deadline = Date.now() + 30_000;
    while (!String(await admin.call("CLUSTER", "INFO")).includes("cluster_state:ok")) {
      if (Date.now() > deadline) throw new Error("the test cluster did not become ready");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    admin.disconnect();
  }
}

export const TARGETS: Target[] = [
  {
    name: "embedded",
    open: async () => ({ env: { KNCLAW_MEMORY_BACKEND: "embedded" }, teardown: async () => {} }),
  },
  {
    name: "embedded-file",
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), "knclaw-memory-"));
      return {
        env: { KNCLAW_MEMORY_BACKEND: "embedded", KNCLAW_MEMORY_EMBEDDED_PATH: join(dir, "memory.sqlite") },
        teardown: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: "redis",
    open: async () => {
      const prefix = uniquePrefix();
      return {
        env: { KNCLAW_REDIS_URL: SHARED_REDIS, KNCLAW_REDIS_KEY_PREFIX: prefix },
        teardown: () => deleteKeys(SHARED_REDIS, prefix),
      };
    },
  },
  {
    name: "redis-cluster",
    open: async () => {
      const server = await ownRedis([
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-announce-ip",
        "127.0.0.1",
        "--appendonly",
        "no",
      ]);
      await clusterReady(server.url);
      return {
        env: { KNCLAW_REDIS_URL: server.url, KNCLAW_MEMORY_REDIS_CLUSTER: "true", KNCLAW_REDIS_KEY_PREFIX: "knclaw:" },
        teardown: () => server.stop(),
      };
    },
  },
];
