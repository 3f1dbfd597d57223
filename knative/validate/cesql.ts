/**
 * A syntax check for CloudEvents SQL v1 expressions (Trigger `cesql` filters), standing in for the cloudevents
 * sdk-go parser Knative's webhook calls. It accepts the v1 grammar: literals (integers, 'single' or "double" quoted
 * strings, TRUE/FALSE), attribute identifiers, function calls, parentheses, unary NOT and -, * / %, + -,
 * comparisons (= != <> < <= > >=), [NOT] LIKE, [NOT] IN (...), EXISTS <identifier>, AND, OR, XOR.
 * Keywords are matched case-insensitively, so it is no stricter than the real parser on case.
 */

type Token =
  | { kind: "number"; text: string; pos: number }
  | { kind: "string"; text: string; pos: number }
  | { kind: "ident"; text: string; pos: number }
  | { kind: "op"; text: string; pos: number }
  | { kind: "end"; text: ""; pos: number };

const KEYWORDS = new Set(["AND", "OR", "XOR", "NOT", "LIKE", "IN", "EXISTS", "TRUE", "FALSE"]);

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(input.slice(i))!;
      if (/^[A-Za-z_]/.test(input.slice(i + m[0].length)))
        throw new SyntaxError(`unexpected character after number at ${i + m[0].length}`);
      tokens.push({ kind: "number", text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i))!;
      tokens.push({ kind: "ident", text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let text = "";
      for (;;) {
        if (j >= input.length) throw new SyntaxError(`unterminated string starting at ${i}`);
        const d = input[j]!;
        if (d === "\\" && j + 1 < input.length) {
          text += input[j + 1];
          j += 2;
          continue;
        }
        if (d === c) {
          // A doubled quote is an escaped quote.
          if (input[j + 1] === c) {
            text += c;
            j += 2;
            continue;
          }
          break;
        }
        text += d;
        j++;
      }
      tokens.push({ kind: "string", text, pos: i });
      i = j + 1;
      continue;
    }
    const two = input.slice(i, i + 2);
    if (two === "!=" || two === "<>" || two === "<=" || two === ">=") {
      tokens.push({ kind: "op", text: two, pos: i });
      i += 2;
      continue;
    }
    if ("=<>+-*/%(),".includes(c)) {
      tokens.push({ kind: "op", text: c, pos: i });
      i++;
      continue;
    }
    throw new SyntaxError(`unexpected character ${JSON.stringify(c)} at ${i}`);
  }
  tokens.push({ kind: "end", text: "", pos: input.length });
  return tokens;
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }

  private next(): Token {
    return this.tokens[this.index++]!;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === "ident" && t.text.toUpperCase() === word;
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === op;
  }

  private expectOp(op: string): void {
    const t = this.next();
    if (t.kind !== "op" || t.text !== op) throw new SyntaxError(`expected ${JSON.stringify(op)} at ${t.pos}`);
  }

  parse(): void {
    this.expression();
    const t = this.peek();
    if (t.kind !== "end") throw new SyntaxError(`unexpected ${JSON.stringify(t.text)} at ${t.pos}`);
  }

  private expression(): void {
    this.binary(0);
  }

  // Lowest to highest: OR, XOR, AND.
  private static readonly LOGICAL = ["OR", "XOR", "AND"];

  private binary(level: number): void {
    if (level === Parser.LOGICAL.length) {
      this.comparison();
      return;
    }
    this.binary(level + 1);
    while (this.isKeyword(Parser.LOGICAL[level]!)) {
      this.next();
      this.binary(level + 1);
    }
  }

  private comparison(): void {
    if (this.isKeyword("EXISTS")) {
      this.next();
      const t = this.next();
      if (t.kind !== "ident" || KEYWORDS.has(t.text.toUpperCase()))
        throw new SyntaxError(`EXISTS needs an attribute name at ${t.pos}`);
      return;
    }
    this.additive();
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && ["=", "!=", "<>", "<", "<=", ">", ">="].includes(t.text)) {
        this.next();
        this.additive();
        continue;
      }
      let negated = false;
      if (this.isKeyword("NOT")) {
        const after = this.tokens[this.index + 1];
        if (after?.kind === "ident" && ["LIKE", "IN"].includes(after.text.toUpperCase())) {
          this.next();
          negated = true;
        } else break;
      }
      if (this.isKeyword("LIKE")) {
        this.next();
        const s = this.next();
        if (s.kind !== "string") throw new SyntaxError(`LIKE needs a string pattern at ${s.pos}`);
        continue;
      }
      if (this.isKeyword("IN")) {
        this.next();
        this.expectOp("(");
        this.expression();
        while (this.isOp(",")) {
          this.next();
          this.expression();
        }
        this.expectOp(")");
        continue;
      }
      if (negated) throw new SyntaxError(`NOT must be followed by LIKE or IN at ${t.pos}`);
      break;
    }
  }

  private additive(): void {
    this.multiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      this.next();
      this.multiplicative();
    }
  }

  private multiplicative(): void {
    this.unary();
    while (this.isOp("*") || this.isOp("/") || this.isOp("%")) {
      this.next();
      this.unary();
    }
  }

  private unary(): void {
    if (this.isKeyword("NOT") || this.isOp("-")) {
      this.next();
      this.unary();
      return;
    }
    this.atom();
  }

  private atom(): void {
    const t = this.next();
    if (t.kind === "number" || t.kind === "string") return;
    if (t.kind === "op" && t.text === "(") {
      this.expression();
      this.expectOp(")");
      return;
    }
    if (t.kind === "ident") {
      const upper = t.text.toUpperCase();
      if (upper === "TRUE" || upper === "FALSE") return;
      if (KEYWORDS.has(upper)) throw new SyntaxError(`unexpected keyword ${t.text} at ${t.pos}`);
      if (this.isOp("(")) {
        this.next();
        if (!this.isOp(")")) {
          this.expression();
          while (this.isOp(",")) {
            this.next();
            this.expression();
          }
        }
        this.expectOp(")");
      }
      return;
    }
    throw new SyntaxError(
      t.kind === "end" ? "unexpected end of expression" : `unexpected ${JSON.stringify(t.text)} at ${t.pos}`,
    );
  }
}

/** Undefined when the expression parses, else the reason. */
export function checkCesql(expression: string): string | undefined {
  try {
    new Parser(tokenize(expression)).parse();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
