import { bundleName } from "../bundle/function-entries.ts";

/**
 * The bundle a container is asked to run: a bundle name (`agent`, `skill-http`, as `docker run <image> agent` gives
 * it) or a function's entry as rendered into KNCLAW_ENTRY (`functions/agent/app.ts`, or its folder).
 */
export function bundleForEntry(requested: string): string | undefined {
  const path = requested.replace(/^\.\//, "").replace(/\/(app|main)\.ts$/, "");
  if (path.includes("/")) return bundleName(path);
  return /^[a-z0-9-]+$/.test(path) ? path : undefined;
}
