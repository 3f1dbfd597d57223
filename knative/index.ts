/** knative/: the platform config, the renderer and the validator. */
export * from "./config/index.ts";
export * from "./render/index.ts";
export * from "./validate/index.ts";
