/** knative/secrets: the Secret values the platform itself defines, for `knclaw secrets generate` and `knclaw dev`. */
export * from "./files.ts";
export * from "./generate.ts";
export * from "./kinds.ts";
export * from "./memory-scope.ts";
export * from "./plan.ts";
