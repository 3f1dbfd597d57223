import type { ModelRequest } from "../../../../functions/agent/providers/model.ts";

/** The request both provider suites send, with the output allowance each asserts on the wire. */
export function providerRequest(maxOutputTokens: number, extra: Partial<ModelRequest> = {}): ModelRequest {
  return {
    system: "be brief",
    messages: [{ role: "user", content: "hi" }],
    tools: [
      {
        name: "kubernetes__get_pods",
        description: "List pods",
        parameters: { type: "object", properties: { namespace: { type: "string" } } },
      },
      {
        name: "http__fetch",
        description: "Fetch",
        parameters: { type: "object", properties: { url: { type: "string" } } },
      },
    ],
    maxOutputTokens,
    ...extra,
  };
}
