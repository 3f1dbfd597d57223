/**
 * Tokenizer following cloudevents/spec `cesql/CESQLLexer.g4` rule for rule, including ANTLR's tie-breaking: the
 * longest match wins, and between equally long matches the rule defined first wins (keywords, then INTEGER_LITERAL,
 * IDENTIFIER, IDENTIFIER_WITH_NUMBER, FUNCTION_IDENTIFIER_WITH_UNDERSCORE). Keywords are case-insensitive; like sdk-go's
 * case-changing stream, letters are matched case-insensitively everywhere, so `SUBJECT` is an identifier too.
 *
 * Two consequences of the grammar that surprise people, kept on purpose so that a filter accepted here is accepted
 * by Knative (and the other way round):
 * - INTEGER_LITERAL carries its sign, so `4-1` lexes as `4` `-1` and does not parse; `4 - 1` does.
 * - String literals accept `\x` pairs and doubled quotes, but their value only turns `\'` (or `\"`) into the quote;
 *   every other backslash, and both quotes of a doubled quote, stay in the value (sdk-go's conversion).
 */
import { CesqlParseError } from "./errors.ts";

const KEYWORDS = ["AND", "OR", "XOR", "NOT", "LIKE", "EXISTS", "IN", "TRUE", "FALSE"] as const;
type Keyword = (typeof KEYWORDS)[number];

export type TokenType =
  | Keyword
  | "INTEGER" // ('+' | '-')? [0-9]+
  | "STRING" // '...' or "..."
  | "WORD" // [a-zA-Z]+ that is no keyword: an attribute or a function name
  | "WORD_WITH_DIGITS" // [a-zA-Z0-9]+ with at least one digit: an attribute name only
  | "WORD_WITH_UNDERSCORE" // [a-zA-Z][a-zA-Z_]* with at least one underscore: a function name only
  | "("
  | ")"
  | ","
  | "*"
  | "/"
  | "%"
  | "+"
  | "-"
  | "="
  | "!="
  | "<>"
  | "<"
  | "<="
  | ">"
  | ">="
  | "EOF";

export interface Token {
  readonly type: TokenType;
  /** Source text of the token, as written. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** The value of a STRING token (quotes removed, escaped quotes unescaped). */
  readonly value?: string;
}

const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const UNDERSCORE = 95;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const length = source.length;
  let i = 0;
  const push = (type: TokenType, end: number, value?: string) => {
    tokens.push({ type, text: source.slice(i, end), start: i, end, value });
    i = end;
  };

  while (i < length) {
    const c = source.charCodeAt(i);
    // SPACE: [ \t\r\n]+ -> skip. Any other blank (form feed, NBSP, ...) is a token recognition error, as in ANTLR.
    if (c === 32 || c === 9 || c === 13 || c === 10) {
      i++;
      continue;
    }
    if (isLetter(c) || isDigit(c)) {
      push(...scanWord(source, i));
      continue;
    }
    const next = i + 1 < length ? source.charCodeAt(i + 1) : -1;
    switch (c) {
      case 39: // '
      case 34: // "
        push("STRING", ...scanString(source, i));
        continue;
      case 43: // +
      case 45: // -
        if (isDigit(next)) {
          let end = i + 2;
          while (end < length && isDigit(source.charCodeAt(end))) end++;
          push("INTEGER", end);
        } else {
          push(c === 43 ? "+" : "-", i + 1);
        }
        continue;
      case 40:
        push("(", i + 1);
        continue;
      case 41:
        push(")", i + 1);
        continue;
      case 44:
        push(",", i + 1);
        continue;
      case 42:
        push("*", i + 1);
        continue;
      case 47:
        push("/", i + 1);
        continue;
      case 37:
        push("%", i + 1);
        continue;
      case 61:
        push("=", i + 1);
        continue;
      case 33: // ! only exists as part of !=
        if (next === 61) {
          push("!=", i + 2);
          continue;
        }
        break;
      case 60: // <, <=, <>
        if (next === 61) push("<=", i + 2);
        else if (next === 62) push("<>", i + 2);
        else push("<", i + 1);
        continue;
      case 62: // >, >=
        if (next === 61) push(">=", i + 2);
        else push(">", i + 1);
        continue;
    }
    throw new CesqlParseError(source, i, `unexpected character ${describeCharacter(source, i)}`);
  }
  tokens.push({ type: "EOF", text: "", start: length, end: length });
  return tokens;
}

/** Longest match among the keyword, INTEGER_LITERAL and three identifier rules, starting at a letter or digit. */
function scanWord(source: string, start: number): [TokenType, number] {
  const length = source.length;
  let alnumEnd = start; // [a-zA-Z0-9]+
  let sawDigit = false;
  while (alnumEnd < length) {
    const c = source.charCodeAt(alnumEnd);
    if (isDigit(c)) sawDigit = true;
    else if (!isLetter(c)) break;
    alnumEnd++;
  }
  let underscoreEnd = start; // [a-zA-Z][a-zA-Z_]*
  let sawUnderscore = false;
  if (isLetter(source.charCodeAt(start))) {
    underscoreEnd++;
    while (underscoreEnd < length) {
      const c = source.charCodeAt(underscoreEnd);
      if (c === UNDERSCORE) sawUnderscore = true;
      else if (!isLetter(c)) break;
      underscoreEnd++;
    }
  }
  // Longer wins; FUNCTION_IDENTIFIER_WITH_UNDERSCORE can only be longer when it contains an underscore.
  if (sawUnderscore && underscoreEnd > alnumEnd) return ["WORD_WITH_UNDERSCORE", underscoreEnd];
  if (!sawDigit) {
    const upper = source.slice(start, alnumEnd).toUpperCase();
    return [KEYWORD_SET.has(upper) ? (upper as Keyword) : "WORD", alnumEnd];
  }
  // All digits: INTEGER_LITERAL and IDENTIFIER_WITH_NUMBER tie and INTEGER_LITERAL is defined first.
  let digitsEnd = start;
  while (digitsEnd < alnumEnd && isDigit(source.charCodeAt(digitsEnd))) digitsEnd++;
  return [digitsEnd === alnumEnd ? "INTEGER" : "WORD_WITH_DIGITS", alnumEnd];
}

/** DQUOTA_STRING / SQUOTA_STRING: ( '\\' . | doubled quote | any other character )* between the quotes. */
function scanString(source: string, start: number): [number, string] {
  const quote = source.charCodeAt(start);
  const length = source.length;
  let i = start + 1;
  while (i < length) {
    const c = source.charCodeAt(i);
    if (c === 92) {
      if (i + 1 >= length) break;
      i += 2;
    } else if (c === quote) {
      if (i + 1 < length && source.charCodeAt(i + 1) === quote) {
        i += 2;
      } else {
        const raw = source.slice(start + 1, i);
        const escapedQuote = quote === 39 ? "\\'" : '\\"';
        return [i + 1, raw.includes(escapedQuote) ? raw.replaceAll(escapedQuote, escapedQuote.slice(1)) : raw];
      }
    } else {
      i++;
    }
  }
  throw new CesqlParseError(source, start, "unterminated string literal");
}

function describeCharacter(source: string, at: number): string {
  const codePoint = source.codePointAt(at) ?? 0;
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
  return codePoint > 32 && codePoint < 127 ? `'${String.fromCodePoint(codePoint)}' (${hex})` : hex;
}
