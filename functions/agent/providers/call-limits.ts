import { classifySdkError, ModelError } from "./errors.ts";
import type { ModelRequest } from "./model.ts";

/**
 * One model call's bounds, enforced the same way for every provider: a single AbortSignal handed to the SDK ends the
 * request when the call's own timeout or the run's remaining wall clock runs out, or when a stream stays silent longer
 * than the idle timeout (the SDKs' own timeouts stop applying once the headers arrived); and the answer's size is
 * counted as it arrives, so a flooding stream is closed at the cap instead of read to its end. Whatever ends the call,
 * it ends with a typed ModelError: `timeout` (transient: the step is retried), `deadline` (the run is out of time),
 * `output_too_large` (the answer is unusable), or the SDK's own failure classified.
 */
export class CallGuard {
  readonly signal: AbortSignal;
  readonly #provider: string;
  readonly #request: ModelRequest;
  readonly #controller = new AbortController();
  readonly #streaming: boolean;
  #timer: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  #bytes = 0;
  #stopped: ModelError | undefined;

  constructor(provider: string, request: ModelRequest, options: { streaming: boolean }) {
    this.#provider = provider;
    this.#request = request;
    this.#streaming = options.streaming;
    this.signal =
      request.signal === undefined
        ? this.#controller.signal
        : AbortSignal.any([this.#controller.signal, request.signal]);
    const limits = request.limits;
    if (limits === undefined) return;
    const deadline = limits.deadlineMs;
    if (deadline !== undefined && deadline <= limits.timeoutMs) {
      this.#timer = setTimeout(
        () => this.#stop(new ModelError("deadline", `${provider}: the run's time budget ran out during the call`)),
        Math.max(0, deadline),
      );
    } else {
      this.#timer = setTimeout(
        () => this.#stop(new ModelError("timeout", `${provider}: no complete answer within ${limits.timeoutMs} ms`)),
        limits.timeoutMs,
      );
    }
    this.#armIdle();
  }

  /** A chunk arrived: the idle timer starts over and the answer's text counts against the cap (which throws). */
  received(text: string): void {
    this.#armIdle();
    if (text === "") return;
    this.#bytes += Buffer.byteLength(text);
    const cap = this.#request.limits?.maxOutputBytes;
    if (cap !== undefined && this.#bytes > cap) {
      this.#stop(new ModelError("output_too_large", `${this.#provider}: the answer passed ${cap} bytes`));
      throw this.#stopped;
    }
  }

  /**
   * After a stream's last chunk: the SDKs end an aborted stream quietly (no error, just no more chunks), so a stream
   * this guard or the caller cut short must not pass for a complete answer.
   */
  throwIfEnded(): void {
    if (this.signal.aborted) throw this.failure(this.signal.reason);
  }

  /** The typed error for a failed call: why this guard ended it, else the SDK's failure classified. */
  failure(error: unknown): ModelError {
    if (this.#stopped !== undefined) return this.#stopped;
    const reason: unknown = this.#request.signal?.aborted ? this.#request.signal.reason : undefined;
    if (reason instanceof ModelError) return reason;
    return classifySdkError(error, this.#provider);
  }

  /** The call is over: no timer may fire any more. */
  done(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#idle);
  }

  #armIdle(): void {
    const limits = this.#request.limits;
    if (!this.#streaming || limits === undefined || this.#stopped !== undefined) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(
      () =>
        this.#stop(
          new ModelError("timeout", `${this.#provider}: the stream was silent for ${limits.idleTimeoutMs} ms`),
        ),
      limits.idleTimeoutMs,
    );
  }

  #stop(error: ModelError): void {
    this.#stopped ??= error;
    this.done();
    this.#controller.abort(error);
  }
}
