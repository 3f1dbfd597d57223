/**
 * Crash points for the crash suite (test/crash/): a test starts a real `knclaw dev` with `KNCLAW_CRASH_POINT=<name>`
 * (or `<name>@<n>`: the n-th time it is reached, counting from 1) and the process kills itself with SIGKILL right
 * there, so a kill lands exactly between two steps that no signal sent from outside could separate (a step's commit
 * and its emit). Unset, every crash point is a no-op.
 *
 * Read from the process environment, not from a function's env contract: it is a test hook of the whole process
 * (`knclaw dev` runs every function in one), never configuration, and nothing renders it.
 *
 * Points: `agent.after-commit` (a step's run document is committed, its outbox not yet emitted),
 * `gateway.after-emit` (run.requested is in the broker, the caller has no answer yet), `channel.after-post` (a chat
 * platform accepted a part, the adapter has not recorded it).
 */
const setting = /^([a-z.-]+)(?:@(\d+))?$/.exec(process.env.KNCLAW_CRASH_POINT ?? "");
const armed = setting === null ? undefined : { name: setting[1]!, at: Number(setting[2] ?? 1) };
let reached = 0;

export function crashPoint(name: string): void {
  if (armed === undefined || armed.name !== name) return;
  reached += 1;
  if (reached === armed.at) process.kill(process.pid, "SIGKILL");
}
