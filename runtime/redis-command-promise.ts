import { createRequire } from "node:module";
import { Command } from "ioredis";

/**
 * A fix for a garbage-collection cost of ioredis, applied once per process before its commands are used.
 *
 * ioredis's `Command#initPromise` (6.0-6.1) assigns a function literal to a property (`this.reject = (err) => ...`).
 * V8 allocates a function literal assigned to a property directly in the old generation: it presumes such a function
 * is long-lived (a method). That old closure's context holds the command, so at the next scavenge every command since
 * the last one is still reachable from the old generation: it is copied, promoted, and freed only by a mark-compact,
 * with its arguments (for the broker journal, each stored event). Measured on the Redis journal at a steady 1,000
 * events/s: about 2 MB promoted at every scavenge, scavenge pauses of 10-40 ms and an old generation that grows until
 * a mark-compact stalls the event loop. With the closure made by a function call instead, the same code allocates
 * it young: about 30 KB promoted per scavenge and pauses of about 1 ms.
 *
 * The replacement is ioredis's own method with that one change. It is applied only to the versions it was compared
 * with; any other version keeps its own (test/runtime/redis-command-promise.test.ts fails then, as a reminder).
 */
const CHECKED_VERSIONS = new Set(["6.0.0", "6.1.0"]);

interface CommandInternals {
  name: string;
  args: unknown[];
  transformed: boolean;
  isResolved: boolean;
  isSettled: boolean;
  errorStack?: Error;
  callback?: unknown;
  promise: Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  stringifyArguments(): void;
  _convertValue(resolve: (value: unknown) => void): (value: unknown) => void;
  _clearTimers(): void;
}

let applied: boolean | undefined;

/** Replace `Command#initPromise` for the checked ioredis versions; true when the replacement is in place. */
export function useYoungCommandPromises(): boolean {
  if (applied !== undefined) return applied;
  let requireFromIoredis: NodeJS.Require;
  try {
    requireFromIoredis = createRequire(createRequire(import.meta.url).resolve("ioredis"));
  } catch {
    // Bundled (a function image): no ioredis package beside it to check, so nothing is replaced.
    applied = false;
    return false;
  }
  const version = (requireFromIoredis("../package.json") as { version: string }).version;
  applied = CHECKED_VERSIONS.has(version);
  if (!applied) return false;
  const asCallback = (requireFromIoredis("standard-as-callback") as { default: AsCallback }).default;
  const { optimizeErrorStack } = requireFromIoredis("./utils") as { optimizeErrorStack: OptimizeErrorStack };
  const commandDir = requireFromIoredis.resolve("./Command").replace(/\/[^/]*$/, "");
  const transformers = (Command as unknown as { _transformer: { argument: Record<string, ArgumentTransformer> } })
    ._transformer;

  function rejecter(command: CommandInternals, reject: (error: Error) => void): (error: Error) => void {
    return (error) => {
      command._clearTimers();
      command.isSettled = true;
      reject(command.errorStack ? optimizeErrorStack(error, command.errorStack.stack, commandDir) : error);
    };
  }

  (Command.prototype as unknown as { initPromise(this: CommandInternals): void }).initPromise = function initPromise() {
    this.isResolved = false;
    this.isSettled = false;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    try {
      // As in ioredis's promise executor: a transformer that throws rejects the command's promise.
      if (!this.transformed) {
        this.transformed = true;
        const transformer = transformers.argument[this.name];
        if (transformer) this.args = transformer(this.args);
        this.stringifyArguments();
      }
      this.resolve = this._convertValue(resolve);
      this.reject = rejecter(this, reject);
    } catch (error) {
      reject(error);
    }
    this.promise = asCallback(promise, this.callback);
  };
  return true;
}

type AsCallback = (promise: Promise<unknown>, callback: unknown) => Promise<unknown>;
type OptimizeErrorStack = (error: Error, stack: string | undefined, dir: string) => Error;
type ArgumentTransformer = (args: unknown[]) => unknown[];
