import {
  type ConfigurationOptions,
  Observable,
  type ObservableMiddleware,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";

/**
 * Per-call options for @kubernetes/client-node: the call's abort signal (so a tool timeout really stops the request)
 * and, for patches, the patch format (the generated client defaults to JSON Patch).
 */
export function callOptions(
  signal: AbortSignal,
  patch?: "merge" | "strategic",
): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      if (patch) {
        context.setHeaderParam(
          "Content-Type",
          patch === "merge" ? PatchStrategy.MergePatch : PatchStrategy.StrategicMergePatch,
        );
      }
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}
