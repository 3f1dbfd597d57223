/**
 * Precedence-climbing parser equivalent to cloudevents/spec `cesql/CESQLParser.g4` as ANTLR compiles it (checked
 * against sdk-go's generated parser, which Knative runs). ANTLR gives each left-recursive alternative a precedence
 * from its position in the rule; from tightest to loosest:
 *
 *   primaries: function call, NOT x, -x, EXISTS id, ( x ), literal, identifier
 *   x NOT? LIKE 'pattern'      9  (postfix)
 *   x NOT? IN (a, b, ...)      7  (postfix)
 *   * / %                      6  left-associative
 *   + -                        5  left-associative
 *   = != <> < <= > >=          4  left-associative
 *   AND OR XOR                 3  RIGHT-associative, all three at the same level
 *
 * NOT and unary minus bind to a single primary (`NOT a = b` is `(NOT a) = b`), and AND/OR/XOR share one level, so
 * `a AND b OR c` is `a AND (b OR c)`, unlike most SQL dialects. Both follow the grammar and Knative; write
 * parentheses when mixing them.
 */
import type { BinaryOperator, CesqlNode } from "./ast.ts";
import { CesqlParseError } from "./errors.ts";
import { type Token, type TokenType, tokenize } from "./lexer.ts";
import { INT32_MAX, INT32_MIN } from "./types.ts";

/** Deeper trees are refused so that neither parsing nor evaluation can exhaust the stack. */
export const MAX_DEPTH = 500;

const BINARY_PRECEDENCE: Partial<Record<TokenType, number>> = {
  "*": 6,
  "/": 6,
  "%": 6,
  "+": 5,
  "-": 5,
  "=": 4,
  "!=": 4,
  "<>": 4,
  "<": 4,
  "<=": 4,
  ">": 4,
  ">=": 4,
  AND: 3,
  OR: 3,
  XOR: 3,
};
const LOGICAL_PRECEDENCE = 3;
const LIKE_PRECEDENCE = 9;
const IN_PRECEDENCE = 7;

export function parse(source: string): CesqlNode {
  const parser = new Parser(source, tokenize(source));
  const node = parser.parseExpression(0);
  const trailing = parser.peek();
  if (trailing.type !== "EOF") {
    const sign = trailing.type === "INTEGER" ? trailing.text[0] : undefined;
    const hint =
      sign === "-" || sign === "+"
        ? ` (a sign written right before a digit belongs to the number: put a space after '${sign}' to ${sign === "-" ? "subtract" : "add"})`
        : "";
    throw parser.error(trailing, `unexpected ${describe(trailing)} after a complete expression${hint}`);
  }
  checkDepth(source, node, 1);
  return node;
}

class Parser {
  readonly #source: string;
  readonly #tokens: Token[];
  #index = 0;
  #nesting = 0;

  constructor(source: string, tokens: Token[]) {
    this.#source = source;
    this.#tokens = tokens;
  }

  peek(offset = 0): Token {
    const tokens = this.#tokens;
    return tokens[Math.min(this.#index + offset, tokens.length - 1)] as Token;
  }

  error(token: Token, reason: string): CesqlParseError {
    return new CesqlParseError(this.#source, token.start, reason);
  }

  parseExpression(minPrecedence: number): CesqlNode {
    this.#enter();
    let left = this.#parsePrimary();
    for (;;) {
      const token = this.peek();
      const precedence = BINARY_PRECEDENCE[token.type];
      if (precedence !== undefined) {
        if (precedence < minPrecedence) break;
        this.#index++;
        // Left-associative operators climb one level for their right operand; AND/OR/XOR stay on theirs.
        const right = this.parseExpression(precedence === LOGICAL_PRECEDENCE ? precedence : precedence + 1);
        left = {
          kind: "binary",
          operator: token.type as BinaryOperator,
          left,
          right,
          start: left.start,
          end: right.end,
        };
        continue;
      }
      const negated = token.type === "NOT";
      const operator = negated ? this.peek(1) : token;
      if (operator.type === "LIKE" && LIKE_PRECEDENCE >= minPrecedence) {
        this.#index += negated ? 2 : 1;
        left = this.#parseLike(left, negated);
        continue;
      }
      if (operator.type === "IN" && IN_PRECEDENCE >= minPrecedence) {
        this.#index += negated ? 2 : 1;
        left = this.#parseIn(left, negated);
        continue;
      }
      if (negated && operator.type !== "LIKE" && operator.type !== "IN") {
        throw this.error(operator, `expected LIKE or IN after NOT but found ${describe(operator)}`);
      }
      break;
    }
    this.#nesting--;
    return left;
  }

  #parsePrimary(): CesqlNode {
    this.#enter();
    const token = this.peek();
    let node: CesqlNode;
    switch (token.type) {
      case "NOT":
      case "-": {
        this.#index++;
        const operand = this.#parsePrimary();
        node = { kind: token.type === "NOT" ? "not" : "negate", operand, start: token.start, end: operand.end };
        break;
      }
      case "EXISTS": {
        this.#index++;
        const name = this.peek();
        if (name.type !== "WORD" && name.type !== "WORD_WITH_DIGITS") {
          throw this.error(name, `EXISTS needs an attribute name but found ${describe(name)}`);
        }
        this.#index++;
        node = { kind: "exists", name: name.text.toLowerCase(), start: token.start, end: name.end };
        break;
      }
      case "(": {
        this.#index++;
        const inner = this.parseExpression(0);
        this.#expect(")", () => `expected ')' to close the '(' at column ${token.start + 1}`);
        node = inner;
        break;
      }
      case "TRUE":
      case "FALSE":
        this.#index++;
        node = { kind: "literal", value: token.type === "TRUE", raw: token.type, ...span(token) };
        break;
      case "INTEGER": {
        this.#index++;
        const value = Number(token.text);
        if (!(value >= INT32_MIN && value <= INT32_MAX)) {
          throw this.error(token, `integer literal ${token.text} is outside the signed 32-bit range`);
        }
        node = { kind: "literal", value: value | 0, raw: String(value | 0), ...span(token) };
        break;
      }
      case "STRING":
        this.#index++;
        node = { kind: "literal", value: token.value ?? "", raw: token.text, ...span(token) };
        break;
      case "WORD":
      case "WORD_WITH_UNDERSCORE":
        if (this.peek(1).type === "(") {
          node = this.#parseCall(token);
          break;
        }
        if (token.type === "WORD_WITH_UNDERSCORE") {
          throw this.error(
            token,
            `${describe(token)} is not an attribute name (those are letters and digits only); a function call needs '('`,
          );
        }
        this.#index++;
        node = { kind: "identifier", name: token.text.toLowerCase(), ...span(token) };
        break;
      case "WORD_WITH_DIGITS":
        if (this.peek(1).type === "(") {
          throw this.error(token, `${describe(token)} is not a function name (those are letters and underscores only)`);
        }
        this.#index++;
        node = { kind: "identifier", name: token.text.toLowerCase(), ...span(token) };
        break;
      default:
        throw this.error(token, `expected an expression but found ${describe(token)}`);
    }
    this.#nesting--;
    return node;
  }

  #parseCall(nameToken: Token): CesqlNode {
    this.#index += 2; // name and '('
    const args: CesqlNode[] = [];
    if (this.peek().type !== ")") {
      for (;;) {
        args.push(this.parseExpression(0));
        if (this.peek().type !== ",") break;
        this.#index++;
      }
    }
    const close = this.#expect(")", () => `expected ',' or ')' in the arguments of ${nameToken.text}`);
    return { kind: "call", name: nameToken.text.toUpperCase(), args, start: nameToken.start, end: close.end };
  }

  #parseLike(operand: CesqlNode, negated: boolean): CesqlNode {
    const pattern = this.peek();
    // Spec §3.4.3: the pattern must be a string literal as written, never an expression cast to String.
    if (pattern.type !== "STRING") {
      throw this.error(pattern, `LIKE needs a string literal pattern but found ${describe(pattern)}`);
    }
    this.#index++;
    return {
      kind: "like",
      negated,
      operand,
      pattern: pattern.value ?? "",
      patternRaw: pattern.text,
      start: operand.start,
      end: pattern.end,
    };
  }

  #parseIn(operand: CesqlNode, negated: boolean): CesqlNode {
    const open = this.peek();
    if (open.type !== "(") {
      throw this.error(open, `IN needs a parenthesized list of expressions but found ${describe(open)}`);
    }
    this.#index++;
    if (this.peek().type === ")") throw this.error(this.peek(), "IN needs at least one expression in its list");
    const set: CesqlNode[] = [];
    for (;;) {
      set.push(this.parseExpression(0));
      if (this.peek().type !== ",") break;
      this.#index++;
    }
    const close = this.#expect(")", () => "expected ',' or ')' in the list of IN");
    return { kind: "in", negated, operand, set, start: operand.start, end: close.end };
  }

  #expect(type: TokenType, reason: () => string): Token {
    const token = this.peek();
    if (token.type !== type) throw this.error(token, `${reason()} but found ${describe(token)}`);
    this.#index++;
    return token;
  }

  #enter(): void {
    // Parentheses and prefix operators nest without adding tree depth, so the recursion itself is bounded too.
    if (++this.#nesting > 2 * MAX_DEPTH) {
      throw this.error(this.peek(), `expression is nested more than ${MAX_DEPTH} levels deep`);
    }
  }
}

function checkDepth(source: string, node: CesqlNode, depth: number): void {
  if (depth > MAX_DEPTH) {
    throw new CesqlParseError(source, node.start, `expression is nested more than ${MAX_DEPTH} levels deep`);
  }
  switch (node.kind) {
    case "not":
    case "negate":
    case "like":
      checkDepth(source, node.operand, depth + 1);
      return;
    case "binary":
      checkDepth(source, node.left, depth + 1);
      checkDepth(source, node.right, depth + 1);
      return;
    case "in":
      checkDepth(source, node.operand, depth + 1);
      for (const item of node.set) checkDepth(source, item, depth + 1);
      return;
    case "call":
      for (const arg of node.args) checkDepth(source, arg, depth + 1);
      return;
    default:
      return;
  }
}

const span = (token: Token) => ({ start: token.start, end: token.end });

// Quotes a token for an error message, shortened so that a huge literal cannot make a huge message.
function describe(token: Token): string {
  if (token.type === "EOF") return "the end of the expression";
  return token.text.length > 40 ? `'${token.text.slice(0, 40)}…'` : `'${token.text}'`;
}
