/**
 * Exports that no other module imports: each is either dead or should not be exported. knip (configured in
 * knip.json: the function entries, the CLI, scripts, benchmarks and every test are entry points) finds them; this
 * prints them with their count and fails when there are `--max` or more (default 20).
 *
 *   npm run check:exports [-- --max N]
 */
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface KnipIssue {
  file: string;
  exports?: Array<{ name: string; line: number }>;
  types?: Array<{ name: string; line: number }>;
}

export function localExports(root: string): Array<{ file: string; name: string; line: number }> {
  const knip = join(root, "node_modules", "knip", "bin", "knip.js");
  let output: string;
  try {
    output = execFileSync(process.execPath, [knip, "--include", "exports,types", "--reporter", "json"], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    // knip exits 1 when it found something; its report is still on stdout.
    output = (error as { stdout?: string }).stdout ?? "";
    if (output === "") throw error;
  }
  const report = JSON.parse(output) as { issues: KnipIssue[] };
  return report.issues.flatMap((issue) =>
    [...(issue.exports ?? []), ...(issue.types ?? [])].map(({ name, line }) => ({ file: issue.file, name, line })),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const at = process.argv.indexOf("--max");
  const max = at > 0 ? Number(process.argv[at + 1]) : 20;
  const found = localExports(root);
  for (const { file, name, line } of found) console.log(`${file}:${line} ${name}`);
  console.log(`${found.length} exports used nowhere but their own file (limit: fewer than ${max})`);
  process.exit(found.length < max ? 0 : 1);
}
