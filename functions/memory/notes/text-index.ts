/**
 * Keyword indexing of notes: a tokenizer shared by writes and searches, and BM25 ranking over the postings a backend
 * returns. The ranking only sees candidate ids with scores, so a vector index could later add its own candidates
 * and the two lists be fused without changing the backends' storage of notes.
 */

const STOPWORDS = new Set(
  (
    "a an and are as at be but by for from has have he her his i in is it its of on or our she so that the their them " +
    "there they this to was we were what when where which who will with you your"
  ).split(" "),
);
const MAX_TERM_LENGTH = 64;
/** Index at most this many distinct terms per note: bounds the keys one write touches. */
export const MAX_TERMS_PER_NOTE = 200;

/** Lowercased, accent-folded words of two or more letters/digits, stopwords dropped. */
export function tokenize(text: string): string[] {
  const folded = text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase();
  const terms: string[] = [];
  for (const match of folded.matchAll(/[\p{L}\p{N}]+/gu)) {
    const term = match[0];
    if (term.length < 2 || term.length > MAX_TERM_LENGTH || STOPWORDS.has(term)) continue;
    terms.push(term);
  }
  return terms;
}

export interface TermVector {
  /** term -> frequency, at most MAX_TERMS_PER_NOTE terms (the most frequent, ties by first appearance). */
  terms: Map<string, number>;
  /** Number of tokens in the document (its BM25 length). */
  length: number;
}

export function termVector(text: string, tags: readonly string[] = []): TermVector {
  const tokens = [...tokenize(text), ...tags.flatMap((tag) => tokenize(tag))];
  const counts = new Map<string, number>();
  for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  const kept = [...counts].sort((a, b) => b[1] - a[1]).slice(0, MAX_TERMS_PER_NOTE);
  return { terms: new Map(kept), length: tokens.length };
}

/** The distinct terms of a query, in order. */
export function queryTerms(query: string): string[] {
  return [...new Set(tokenize(query))].slice(0, 32);
}

/** What a backend gathers for one search: corpus statistics and the postings of the query terms. */
export interface SearchStatistics {
  /** Notes in the whole instance, and the sum of their lengths (corpus-wide IDF and average length). */
  documents: number;
  totalLength: number;
  /** For each query term, the notes containing it with the term's frequency. */
  postings: Map<string, Map<string, number>>;
  /** Length of every candidate note. */
  lengths: Map<string, number>;
}

const K1 = 1.2;
const B = 0.75;

/** BM25 scores of the candidates, best first; ties broken by id so results are deterministic. */
export function rankBm25(stats: SearchStatistics, limit: number): Array<{ id: string; score: number }> {
  const documents = Math.max(stats.documents, 1);
  const averageLength = stats.totalLength > 0 ? stats.totalLength / documents : 1;
  const scores = new Map<string, number>();
  for (const postings of stats.postings.values()) {
    const df = postings.size;
    if (df === 0) continue;
    const idf = Math.log(1 + (documents - df + 0.5) / (df + 0.5));
    for (const [id, tf] of postings) {
      const length = stats.lengths.get(id);
      if (length === undefined) continue;
      const norm = tf + K1 * (1 - B + (B * length) / averageLength);
      scores.set(id, (scores.get(id) ?? 0) + idf * ((tf * (K1 + 1)) / norm));
    }
  }
  return [...scores]
    .map(([id, score]) => ({ id, score: Math.round(score * 1e6) / 1e6 }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, limit);
}
