import type {
  ConfigurationOptions,
  ObservableMiddleware,
  RequestContext,
  ResponseContext,
} from "@kubernetes/client-node";
import type { ClientNode } from "./client-node.ts";

/** What one tool call passes to each of its API requests. */
export interface CallOptions {
  /** Aborted when the tool's timeout passes. */
  signal: AbortSignal;
  read: ConfigurationOptions<ObservableMiddleware>;
  mergePatch: ConfigurationOptions<ObservableMiddleware>;
  strategicPatch: ConfigurationOptions<ObservableMiddleware>;
}

/**
 * Per-call options for @kubernetes/client-node: the call's abort signal (so a tool timeout really stops the request)
 * and, for patches, the patch format (the generated client defaults to JSON Patch). Built from the loaded library,
 * whose Observable the middleware must return.
 */
export function callOptions(lib: ClientNode, signal: AbortSignal): CallOptions {
  const withMiddleware = (contentType?: string): ConfigurationOptions<ObservableMiddleware> => {
    const middleware: ObservableMiddleware = {
      pre: (context: RequestContext) => {
        context.setSignal(signal);
        if (contentType) context.setHeaderParam("Content-Type", contentType);
        return new lib.Observable(Promise.resolve(context));
      },
      post: (context: ResponseContext) => new lib.Observable(Promise.resolve(context)),
    };
    return { middleware: [middleware], middlewareMergeStrategy: "append" };
  };
  return {
    signal,
    read: withMiddleware(),
    mergePatch: withMiddleware(lib.PatchStrategy.MergePatch),
    strategicPatch: withMiddleware(lib.PatchStrategy.StrategicMergePatch),
  };
}
