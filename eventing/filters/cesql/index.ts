/**
 * CloudEvents SQL (CESQL) v1 for Trigger `filters: [{ cesql: ... }]`: cloudevents/spec `cesql/spec.md` v1.0.0, its
 * ANTLR grammar, and Knative's engine (sdk-go `sql/v2`) where the spec leaves room.
 *
 *   const filter = compileCesql("type LIKE 'dev.knclaw.%' AND knclawinstance = 'support'"); // throws CesqlParseError
 *   matchesCesql(filter, { specversion: "1.0", id: "1", source: "/x", type: "dev.knclaw.run.requested", ... });
 *
 * Note for the Trigger loader: Knative treats an empty `cesql` string as "no filter" and never parses it; this
 * module, following the grammar, rejects "" as a parse error, so that decision belongs to the caller.
 */
export type { CesqlNode } from "./ast.ts";
export { type CesqlResult, compileCesql, matchesCesql } from "./compile.ts";
export { CesqlParseError } from "./errors.ts";
export { type CesqlFunction, CesqlFunctionError } from "./functions.ts";
export { MAX_DEPTH as CESQL_MAX_DEPTH, parse as parseCesql } from "./parser.ts";
export { print as printCesql } from "./printer.ts";
