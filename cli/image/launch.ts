/**
 * The image's entry point (bundled to /app/launch.mjs): one image holds every function, and this picks the one to run
 * from its first argument or, as rendered ksvcs say it, from KNCLAW_ENTRY (`functions/agent/app.ts`). It runs as
 * PID 1, which the kernel shields from every signal it has no handler for: until the function's own handler is in
 * place (runtime/serve.ts installs it once listening), SIGTERM and SIGINT end the start instead of being dropped.
 */
import { existsSync } from "node:fs";
import { enableCompileCache } from "node:module";
import { fileURLToPath } from "node:url";
import { bundleForEntry } from "./entry-bundle.ts";

const requested = process.argv[2] ?? process.env.KNCLAW_ENTRY;
const functionsDir = new URL("./functions/", import.meta.url);
const name = requested === undefined ? undefined : bundleForEntry(requested);
const file = name === undefined ? undefined : new URL(`${name}/index.mjs`, functionsDir);
if (file === undefined || !existsSync(file)) {
  console.error(
    requested === undefined
      ? "knclaw image: name the function to run (argument or KNCLAW_ENTRY)"
      : `knclaw image: no function ${JSON.stringify(requested)} in this image`,
  );
  process.exit(64);
}

// The compiled code of the function's modules, written when the image was built (./compile-cache.ts): read-only
// here, and a module it does not hold is compiled as without it.
enableCompileCache({ directory: fileURLToPath(new URL("./compile-cache/", import.meta.url)), portable: true });

const stopWhileStarting = (signal: NodeJS.Signals) => process.exit(signal === "SIGTERM" ? 143 : 130);
process.on("SIGTERM", stopWhileStarting);
process.on("SIGINT", stopWhileStarting);
// The entry's top-level await returns once it serves, with its own draining handler installed.
await import(file.href);
process.off("SIGTERM", stopWhileStarting);
process.off("SIGINT", stopWhileStarting);
