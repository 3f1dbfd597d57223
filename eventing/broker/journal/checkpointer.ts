/**
 * The SQLite journal's checkpoints, in a worker thread with its own connection (sqlite.ts): a checkpoint copies the
 * WAL into the database and fsyncs it, which on a busy disk takes from milliseconds to a tenth of a second, and
 * node:sqlite is synchronous, so on the broker's thread every checkpoint would stall every delivery.
 *
 * PASSIVE checkpoints (every `intervalMs`) do that work without ever blocking the broker's writes. But the broker
 * writes while they run, so the WAL is never found fully copied when a write begins, which is when SQLite rewinds
 * it: it would grow forever. So once it holds more than `restartFrames` frames, a RESTART checkpoint takes the write
 * lock for what the last PASSIVE one left (little) and rewinds the WAL; a write of the broker meanwhile waits for it
 * (busy_timeout), once per that many frames.
 */
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

interface CheckpointerData {
  path: string;
  intervalMs: number;
  restartFrames: number;
}

const { path, intervalMs, restartFrames } = workerData as CheckpointerData;
const db = new DatabaseSync(path);
db.exec("PRAGMA busy_timeout = 5000");
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)");
const timer = setInterval(() => {
  try {
    const { log } = passive.get() as { log: number };
    if (log > restartFrames) restart.get();
  } catch {
    // Busy or closing: the next tick tries again, and closing the last connection checkpoints anyway.
  }
}, intervalMs);
parentPort!.once("message", () => {
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
