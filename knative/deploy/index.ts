/** knative/deploy: the platform on a live cluster: server-side apply, prune, readiness, status, delete. */
export * from "./apply.ts";
export * from "./cluster.ts";
export * from "./deploy.ts";
export * from "./owned.ts";
export * from "./ownership.ts";
export * from "./readiness.ts";
export * from "./secrets-dir.ts";
export * from "./status.ts";
