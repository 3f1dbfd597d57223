/**
 * Prints a syntax tree back to CESQL with every compound operand parenthesized, so the text means the same tree
 * whatever the reader assumes about precedence (`parse(print(tree))` gives `tree` back). Used for logs and the
 * console, where `a AND b OR c` would otherwise be read the SQL way.
 */
import type { CesqlNode } from "./ast.ts";

export function print(node: CesqlNode): string {
  switch (node.kind) {
    case "literal":
      return node.raw;
    case "identifier":
      return node.name;
    case "exists":
      return `EXISTS ${node.name}`;
    case "not":
      return `NOT ${operand(node.operand)}`;
    case "negate":
      // The space keeps `- 5` a negation: `-5` would lex as one signed literal.
      return `- ${operand(node.operand)}`;
    case "binary":
      return `${operand(node.left)} ${node.operator} ${operand(node.right)}`;
    case "like":
      return `${operand(node.operand)} ${node.negated ? "NOT LIKE" : "LIKE"} ${node.patternRaw}`;
    case "in":
      return `${operand(node.operand)} ${node.negated ? "NOT IN" : "IN"} (${node.set.map(print).join(", ")})`;
    case "call":
      return `${node.name}(${node.args.map(print).join(", ")})`;
  }
}

// Prefix operators are parenthesized too: `NOT a = b` means `(NOT a) = b`, which few readers would guess.
const COMPOUND: ReadonlySet<CesqlNode["kind"]> = new Set(["binary", "like", "in", "not", "negate"]);

function operand(node: CesqlNode): string {
  return COMPOUND.has(node.kind) ? `(${print(node)})` : print(node);
}
