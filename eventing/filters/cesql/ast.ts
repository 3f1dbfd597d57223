/** Syntax tree of a CESQL v1 expression. `start`/`end` are offsets into the source, for diagnostics. */
import type { CesqlValue } from "./types.ts";

type ArithmeticOperator = "*" | "/" | "%" | "+" | "-";
type ComparisonOperator = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=";
type LogicalOperator = "AND" | "OR" | "XOR";
export type BinaryOperator = ArithmeticOperator | ComparisonOperator | LogicalOperator;

interface Span {
  readonly start: number;
  readonly end: number;
}

interface LiteralNode extends Span {
  readonly kind: "literal";
  readonly value: CesqlValue;
  /** The literal as written (string literals keep their quotes and escapes), so printing reproduces it exactly. */
  readonly raw: string;
}

interface IdentifierNode extends Span {
  readonly kind: "identifier";
  /** Lower-cased, as sdk-go does: attribute names are lower-case in CloudEvents. */
  readonly name: string;
}

interface ExistsNode extends Span {
  readonly kind: "exists";
  readonly name: string;
}

interface NotNode extends Span {
  readonly kind: "not";
  readonly operand: CesqlNode;
}

interface NegateNode extends Span {
  readonly kind: "negate";
  readonly operand: CesqlNode;
}

interface BinaryNode extends Span {
  readonly kind: "binary";
  readonly operator: BinaryOperator;
  readonly left: CesqlNode;
  readonly right: CesqlNode;
}

interface LikeNode extends Span {
  readonly kind: "like";
  readonly negated: boolean;
  readonly operand: CesqlNode;
  /** The pattern's string value (wildcards and `\` escapes still in it). */
  readonly pattern: string;
  readonly patternRaw: string;
}

interface InNode extends Span {
  readonly kind: "in";
  readonly negated: boolean;
  readonly operand: CesqlNode;
  readonly set: readonly CesqlNode[];
}

interface CallNode extends Span {
  readonly kind: "call";
  /** Upper-cased: function names are case-insensitive. */
  readonly name: string;
  readonly args: readonly CesqlNode[];
}

export type CesqlNode =
  | LiteralNode
  | IdentifierNode
  | ExistsNode
  | NotNode
  | NegateNode
  | BinaryNode
  | LikeNode
  | InNode
  | CallNode;
