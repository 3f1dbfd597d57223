/** The platform namespace, when the config owns it. */
import { baseLabels, type RenderContext } from "./context.ts";
import type { RenderedObject } from "./types.ts";

export function renderNamespace(ctx: RenderContext): RenderedObject[] {
  if (!ctx.config.metadata.createNamespace) return [];
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ctx.namespace,
        labels: {
          ...baseLabels(ctx, ctx.namespace),
          // SinkBindings only act in namespaces their webhook selects; in inclusion mode this label is required.
          "bindings.knative.dev/include": "true",
        },
      },
    },
  ];
}
