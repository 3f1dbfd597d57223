import { fileURLToPath } from "node:url";

/** The checkout (or installed package) root: function entries and the shipped default config are found from here. */
export function repoRoot(): string {
  return fileURLToPath(new URL("..", import.meta.url));
}
