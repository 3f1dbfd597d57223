/**
 * LIKE patterns (spec §3.4.3): `%` matches any run of characters, `_` exactly one character, `\%` and `\_` the
 * literal wildcard; any other character, a backslash before anything else included, matches itself, case-sensitively
 * (sdk-go's reading of the spec, which only defines the two escapes).
 *
 * Patterns are compiled once. Matching never uses a backtracking regular expression: the classic greedy
 * wildcard walk is O(text × pattern) at worst, so a long attribute value cannot stall the broker.
 */

const ANY_ONE = 0;
const ANY_RUN = 1;
/** A pattern element: ANY_ONE, ANY_RUN, or a literal character (one code point). */
type Element = typeof ANY_ONE | typeof ANY_RUN | string;

export type LikeMatcher = (text: string) => boolean;

export function compileLike(pattern: string): LikeMatcher {
  const elements = parsePattern(pattern);
  const usesAnyOne = elements.includes(ANY_ONE);
  if (!usesAnyOne) {
    // Shapes the Subscriptions API's exact/prefix/suffix filters turn into: no per-character walk needed.
    const runs = elements.filter((e) => e === ANY_RUN).length;
    const literal = elements.filter((e) => e !== ANY_RUN).join("");
    const first = elements[0];
    const last = elements[elements.length - 1];
    if (runs === 0) return (text) => text === literal;
    if (runs === 1 && first === ANY_RUN) return (text) => text.endsWith(literal);
    if (runs === 1 && last === ANY_RUN) return (text) => text.startsWith(literal);
    if (runs === 2 && first === ANY_RUN && last === ANY_RUN) return (text) => text.includes(literal);
  }
  // `_` is one character, so walk code points when the text has surrogate pairs; otherwise UTF-16 units will do.
  if (usesAnyOne) return (text) => wildcardMatch(HAS_SURROGATE.test(text) ? Array.from(text) : text, elements);
  const units = elements.flatMap((e): Element[] => (typeof e === "string" ? e.split("") : [e]));
  return (text) => wildcardMatch(text, units);
}

const HAS_SURROGATE = /[\uD800-\uDFFF]/;

function parsePattern(pattern: string): Element[] {
  const elements: Element[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "\\" && (chars[i + 1] === "%" || chars[i + 1] === "_")) {
      elements.push(chars[i + 1] as string);
      i++;
    } else if (c === "%") {
      // Consecutive runs are one run.
      if (elements[elements.length - 1] !== ANY_RUN) elements.push(ANY_RUN);
    } else if (c === "_") {
      elements.push(ANY_ONE);
    } else {
      elements.push(c);
    }
  }
  return elements;
}

/** Greedy match with backtracking to the last `%` only; `text` is indexed by character (string or code points). */
function wildcardMatch(text: string | readonly string[], pattern: readonly Element[]): boolean {
  const textLength = text.length;
  const patternLength = pattern.length;
  let t = 0;
  let p = 0;
  let lastRun = -1;
  let resumeAt = 0;
  while (t < textLength) {
    const element = p < patternLength ? pattern[p] : undefined;
    if (element === ANY_ONE || (typeof element === "string" && element === text[t])) {
      t++;
      p++;
    } else if (element === ANY_RUN) {
      lastRun = p++;
      resumeAt = t;
    } else if (lastRun >= 0) {
      p = lastRun + 1;
      t = ++resumeAt;
    } else {
      return false;
    }
  }
  while (p < patternLength && pattern[p] === ANY_RUN) p++;
  return p === patternLength;
}
