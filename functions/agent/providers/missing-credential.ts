import { ModelError } from "./errors.ts";
import type { LanguageModel, ModelResponse } from "./model.ts";

/**
 * The model of an instance whose provider needs a key that resolved empty (a Secret key that is empty, or a Secret
 * knclaw dev could not find). Every run it is asked to answer fails at once with `model_error:missing_credential`
 * and a message naming the variable the key comes from, never a value, and nothing is sent to the provider.
 *
 * Why a failing run rather than a failing start: a function that will not start is visible only to whoever watches
 * the deploy; the events for it are retried into the dead-letter sink and the person who wrote gets silence, and
 * under knclaw dev, where every function shares one process, a start failure would stop every other instance too.
 * A run that fails tells each caller (the channel, the gateway's run, the console) what is missing, every time, and
 * the other instances run on. The agent also logs it as an error at start.
 */
export class MissingCredentialModel implements LanguageModel {
  readonly streams = false;
  readonly provider: string;
  readonly modelId: string;
  /** What is missing and where it comes from: the message of every failed call. */
  readonly problem: string;

  constructor(provider: string, modelId: string, problem: string) {
    this.provider = provider;
    this.modelId = modelId;
    this.problem = problem;
  }

  generate(): Promise<ModelResponse> {
    return Promise.reject(new ModelError("missing_credential", this.problem));
  }

  stream(): Promise<ModelResponse> {
    return this.generate();
  }
}
