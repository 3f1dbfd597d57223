import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import type { DeliveryProgress } from "../../delivery/retry-loop.ts";
import { type Log, silentLog } from "../log.ts";
import {
  type DeliveryJournal,
  type Dispatch,
  decodeEvent,
  encodeAttributes,
  type JournalStore,
  type NewDelivery,
  type StoredDelivery,
} from "./journal.ts";

/**
 * The delivery journal in a local SQLite file (Node 24's built-in `node:sqlite`: no native module to build, one file,
 * transactions). The default of `knclaw dev`, which must be durable without any service running beside it.
 *
 * Durability: WAL mode. With `synchronous = NORMAL` (the default here) a committed transaction is in the WAL file
 * through write() before the ingress answers 202, so a crash of the process (kill -9, OOM) loses nothing: the
 * operating system has the bytes. A power loss or kernel crash can lose the last transactions before the next
 * checkpoint, events already answered 202 among them. `fullSync` (synchronous = FULL) closes that gap with an fsync
 * per commit, which costs milliseconds of a blocked event loop per commit on ordinary disks (node:sqlite is
 * synchronous); `knclaw dev --broker-fsync` turns it on.
 *
 * Throughput: writes are group-committed. Everything the brokers ask for within one turn of the event loop (the
 * ingests of one poll phase, removals, retry states) is written in one transaction in the check phase that follows,
 * and only then are the ingests answered: one commit per batch, never a 202 before its commit.
 *
 * Checkpoints (copying the WAL into the database, with fsyncs) run in a worker thread (checkpointer.ts), never on the
 * broker's thread.
 *
 * A lock file beside the database is held exclusively while open: a second process on the same state directory would
 * deliver the same pending deliveries twice, so it fails to start instead.
 */
export interface SqliteJournalOptions {
  /** The database file; its directory is created when missing. */
  path: string;
  /** fsync each commit (synchronous = FULL): survives power loss, at the cost above. */
  fullSync?: boolean;
  log?: Log;
}

/**
 * How often the worker checkpoints. The table stays small (deliveries leave it as they finish), so a checkpoint copies
 * few distinct pages however long the WAL grew since the last one. No index beside the primary key: one page per
 * row change, and loading at start is a scan of a small table.
 */
const CHECKPOINT_INTERVAL_MS = 1000;
/** WAL length (4 KiB frames: 64 MiB) past which the worker rewinds it, briefly holding the broker's writes. */
const RESTART_FRAMES = 16_384;

interface Row {
  id: number;
  trigger_name: string;
  attributes: string;
  data: Uint8Array | null;
  ttl: number;
  headers: string;
  progress: string | null;
}

type Operation =
  | { kind: "append"; journal: SqliteJournal; deliveries: readonly NewDelivery[]; done: Settle }
  | { kind: "progress"; id: number; progress: string; done: Settle }
  | { kind: "remove"; id: number; done: Settle };

interface Settle {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function openSqliteJournal(options: SqliteJournalOptions): JournalStore {
  mkdirSync(dirname(options.path), { recursive: true });
  const lock = holdLock(`${options.path}.lock`, options.path);
  const db = new DatabaseSync(options.path);
  try {
    db.exec(`PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${options.fullSync ? "FULL" : "NORMAL"};
      PRAGMA busy_timeout = 5000;
      PRAGMA wal_autocheckpoint = 0;
      BEGIN IMMEDIATE;
      CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        broker TEXT NOT NULL,
        trigger_name TEXT NOT NULL,
        attributes TEXT NOT NULL,
        data BLOB,
        ttl INTEGER NOT NULL,
        headers TEXT NOT NULL,
        progress TEXT
      );
      COMMIT;`);
  } catch (error) {
    db.close();
    lock.close();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`the broker journal ${options.path} cannot be opened: ${message}`);
  }
  const checkpointer = new Worker(new URL("./checkpointer.ts", import.meta.url), {
    workerData: { path: options.path, intervalMs: CHECKPOINT_INTERVAL_MS, restartFrames: RESTART_FRAMES },
  });
  checkpointer.unref();
  return new SqliteStore(db, lock, checkpointer, options.log ?? silentLog);
}

/**
 * One process per journal: an exclusive lock on a small SQLite file beside it, taken by a write in EXCLUSIVE locking
 * mode and held until the connection closes (or the process dies: the OS drops the lock).
 */
function holdLock(lockPath: string, journalPath: string): DatabaseSync {
  const lock = new DatabaseSync(lockPath);
  try {
    lock.exec(`PRAGMA locking_mode = EXCLUSIVE;
      BEGIN EXCLUSIVE;
      CREATE TABLE IF NOT EXISTS holder (pid INTEGER);
      DELETE FROM holder;
      INSERT INTO holder (pid) VALUES (${process.pid});
      COMMIT;`);
  } catch (error) {
    lock.close();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      /locked|busy/i.test(message)
        ? `the broker journal ${journalPath} is in use by another process (one knclaw dev per state directory)`
        : `the broker journal ${journalPath} cannot be locked: ${message}`,
    );
  }
  return lock;
}

class SqliteStore implements JournalStore {
  readonly kind = "sqlite";
  private readonly insert: StatementSync;
  private readonly update: StatementSync;
  private readonly delete: StatementSync;
  private readonly pendingOf: StatementSync;
  /** Deliveries stored before this process started: `start` loads these, new ones are dispatched as they commit. */
  private readonly lastIdAtOpen: number;
  private queue: Operation[] = [];
  private scheduled = false;
  private closed = false;

  private readonly db: DatabaseSync;
  private readonly lock: DatabaseSync;
  private readonly checkpointer: Worker;
  private readonly checkpointerExited: Promise<unknown>;

  constructor(db: DatabaseSync, lock: DatabaseSync, checkpointer: Worker, log: Log) {
    this.db = db;
    this.lock = lock;
    this.checkpointer = checkpointer;
    this.checkpointerExited = new Promise((resolve) => checkpointer.once("exit", resolve));
    // Without the worker SQLite still checkpoints when the journal closes; the WAL only grows until then.
    checkpointer.on("error", (error) => log.error({ err: error }, "broker journal: the checkpoint worker failed"));
    this.insert = db.prepare(
      "INSERT INTO deliveries (broker, trigger_name, attributes, data, ttl, headers) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.update = db.prepare("UPDATE deliveries SET progress = ? WHERE id = ?");
    this.delete = db.prepare("DELETE FROM deliveries WHERE id = ?");
    this.pendingOf = db.prepare(
      "SELECT id, trigger_name, attributes, data, ttl, headers, progress FROM deliveries WHERE broker = ? AND id <= ? ORDER BY id",
    );
    const last = db.prepare("SELECT max(id) AS last FROM deliveries").get() as { last: number | null };
    this.lastIdAtOpen = last.last ?? 0;
  }

  forBroker(namespace: string, name: string): DeliveryJournal {
    return new SqliteJournal(this, `${namespace}/${name}`);
  }

  /** Queue a write; it commits with the rest of this turn's writes. */
  enqueue(operation: Operation): void {
    if (this.closed) {
      operation.done.reject(new Error("the broker journal is closed"));
      return;
    }
    this.queue.push(operation);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const appended: Array<{ journal: SqliteJournal; delivery: StoredDelivery }> = [];
    try {
      this.db.exec("BEGIN");
      for (const operation of batch) {
        if (operation.kind === "append") {
          for (const delivery of operation.deliveries) {
            const { lastInsertRowid } = this.insert.run(
              operation.journal.broker,
              delivery.trigger,
              encodeAttributes(delivery.event),
              delivery.event.data ?? null,
              delivery.ttl,
              JSON.stringify(delivery.headers),
            );
            const stored: StoredDelivery = { ...delivery, id: String(lastInsertRowid), local: true };
            appended.push({ journal: operation.journal, delivery: stored });
          }
        } else if (operation.kind === "progress") {
          this.update.run(operation.progress, operation.id);
        } else {
          this.delete.run(operation.id);
        }
      }
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      for (const operation of batch) operation.done.reject(error);
      return;
    }
    for (const { journal, delivery } of appended) journal.handOut(delivery);
    for (const operation of batch) operation.done.resolve();
  };

  load(broker: string): StoredDelivery[] {
    return (this.pendingOf.all(broker, this.lastIdAtOpen) as unknown as Row[]).map((row) => {
      const delivery: StoredDelivery = {
        id: String(row.id),
        trigger: row.trigger_name,
        event: decodeEvent(row.attributes, row.data),
        ttl: row.ttl,
        headers: JSON.parse(row.headers) as Record<string, string>,
      };
      if (row.progress !== null) delivery.progress = JSON.parse(row.progress) as DeliveryProgress;
      return delivery;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    // Unref'd so it never keeps a process alive; while closing, the wait for it must.
    this.checkpointer.ref();
    this.checkpointer.postMessage("close");
    await this.checkpointerExited;
    // The last connection to close checkpoints the WAL into the database.
    this.db.close();
    this.lock.close();
  }
}

class SqliteJournal implements DeliveryJournal {
  private dispatch: Dispatch | undefined;
  /** Deliveries committed before `start`: handed out after the pending ones it loads. */
  private held: StoredDelivery[] = [];
  private stopped = false;

  private readonly store: SqliteStore;
  readonly broker: string;

  constructor(store: SqliteStore, broker: string) {
    this.store = store;
    this.broker = broker;
  }

  append(deliveries: readonly NewDelivery[]): Promise<void> {
    return new Promise((resolve, reject) =>
      this.store.enqueue({ kind: "append", journal: this, deliveries, done: { resolve, reject } }),
    );
  }

  progress(id: string, progress: DeliveryProgress): Promise<void> {
    return new Promise((resolve, reject) =>
      this.store.enqueue({
        kind: "progress",
        id: Number(id),
        progress: JSON.stringify(progress),
        done: { resolve, reject },
      }),
    );
  }

  remove(id: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.store.enqueue({ kind: "remove", id: Number(id), done: { resolve, reject } }),
    );
  }

  handOut(delivery: StoredDelivery): void {
    if (this.stopped) return;
    if (this.dispatch) this.dispatch(delivery);
    else this.held.push(delivery);
  }

  async start(dispatch: Dispatch): Promise<void> {
    const pending = this.store.load(this.broker);
    this.dispatch = dispatch;
    const held = this.held;
    this.held = [];
    for (const delivery of pending) dispatch(delivery);
    for (const delivery of held) dispatch(delivery);
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}
