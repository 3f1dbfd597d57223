import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StoreUnavailableError } from "../stores.ts";

/**
 * The embedded store's one SQLite database (Node 24's built-in `node:sqlite`: no native module, one file, real
 * transactions), in a file when given a path and in memory otherwise.
 *
 * Why SQLite tables per area and not maps persisted beside the process: every store operation becomes one
 * transaction that either commits whole or not at all, so a crash between two writes of one operation (a run's
 * document and its finish order, a note and its postings) cannot leave half of it; nothing has to be loaded at start
 * or held in the process's memory (a 10,000-message session is rows read by index, not an array); and `:memory:`
 * runs the very same code for tests, so there is one embedded implementation, not a persistent one beside an
 * in-memory one.
 *
 * Durability: WAL mode with `synchronous = NORMAL`. A transaction is committed once its frames are written to the WAL
 * through write(), before the operation answers, so a crash of the process (kill -9, OOM) loses no answered write:
 * the operating system has the bytes. SQLite fsyncs only at checkpoints, so a power loss or kernel crash can lose the
 * last transactions since the previous checkpoint, never corrupting the file. `FULL` would fsync every commit, which
 * costs milliseconds of a blocked event loop per write on ordinary disks (node:sqlite is synchronous) for a store
 * that `knclaw dev` and single-machine setups run; the broker's journal makes the same choice (`--broker-fsync`
 * there is for deployments that must survive power loss, and they should run the memory service on Redis).
 * Checkpoints happen automatically every 1,000 WAL pages (about 4 MiB written), each one or two fsyncs on the
 * service's thread.
 *
 * The file and its WAL and shared-memory files are the owner's alone (0600; SQLite gives the WAL and SHM files the
 * database file's mode), in a directory created 0700 when missing: they hold conversations, notes and run state.
 */
export class Database {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** A statement prepared once and reused (the text is its key). */
  #statement(sql: string): StatementSync {
    let prepared = this.#statements.get(sql);
    if (prepared === undefined) {
      prepared = this.#db.prepare(sql);
      this.#statements.set(sql, prepared);
    }
    return prepared;
  }

  run(sql: string, ...params: SqlValue[]): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement(sql).run(...params);
  }

  get<T>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.#statement(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: SqlValue[]): T[] {
    return this.#statement(sql).all(...params) as T[];
  }

  iterate<T>(sql: string, ...params: SqlValue[]): Iterable<T> {
    return this.#statement(sql).iterate(...params) as Iterable<T>;
  }

  /**
   * Runs `work` as one transaction: all of its writes commit together, or none does. IMMEDIATE takes the write lock
   * up front, so a read inside `work` is never invalidated by a writer of another process before the commit.
   */
  write<T>(work: () => T): T {
    return mapFailures(() => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const result = work();
        this.#db.exec("COMMIT");
        return result;
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  /** Runs reads; a store that cannot answer becomes StoreUnavailableError like the other writes' failures. */
  read<T>(work: () => T): T {
    return mapFailures(work);
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

export type SqlValue = string | number | bigint | null | Uint8Array;

/** The layout below; a file written by another layout is refused rather than misread. */
const SCHEMA_VERSION = 1;

/** Open the store's database: `path` a file (kept across restarts), or undefined for one in memory. */
export function openDatabase(path: string | undefined): Database {
  if (path !== undefined) preparePrivateFile(path);
  const db = new DatabaseSync(path ?? ":memory:", { timeout: 5_000 });
  try {
    db.exec(`PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;`);
    const { user_version: version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
    if (version !== 0 && version !== SCHEMA_VERSION) {
      throw new Error(`it was written by another version of the store (schema ${version}, expected ${SCHEMA_VERSION})`);
    }
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  } catch (error) {
    db.close();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`the embedded memory store ${path} cannot be opened: ${message}`);
  }
  return new Database(db);
}

/** Create the database file 0600 (its directory 0700) before SQLite does, and keep existing files private. */
function preparePrivateFile(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

/**
 * SQLite's primary result codes that mean "not now" rather than "wrong request": another connection holds the lock
 * past the busy timeout, the disk is full or failing. The request may be retried; anything else is a bug.
 */
const UNAVAILABLE_CODES = new Set([
  5, // SQLITE_BUSY
  6, // SQLITE_LOCKED
  10, // SQLITE_IOERR
  13, // SQLITE_FULL
  14, // SQLITE_CANTOPEN
]);

function mapFailures<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    const code = (error as { errcode?: unknown }).errcode;
    if (typeof code === "number" && UNAVAILABLE_CODES.has(code & 0xff)) {
      throw new StoreUnavailableError(`embedded store unavailable: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}
