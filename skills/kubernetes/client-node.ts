/**
 * @kubernetes/client-node is loaded on the skill's first call, not at import: its generated APIs and models, with
 * their HTTP, YAML and WebSocket dependencies, are most of the skill's code (a 2 MB chunk) and about 23 MB of its
 * memory, and a scale-from-zero function should answer its readiness probe before it pays for them; the first call
 * pays instead. Modules that need only its types import them with `import type`, which is erased.
 */
export type ClientNode = typeof import("./client-node-exports.ts");

let loading: Promise<ClientNode> | undefined;
let loaded: ClientNode | undefined;

export function loadClientNode(): Promise<ClientNode> {
  loading ??= import("./client-node-exports.ts").then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}

/** The library if a call has loaded it; until then no error can be one of its exceptions. */
export function loadedClientNode(): ClientNode | undefined {
  return loaded;
}
