import { describe, expect, it } from "vitest";
import {
  MAX_TERMS_PER_NOTE,
  queryTerms,
  rankBm25,
  termVector,
  tokenize,
} from "../../../functions/memory/notes/text-index.ts";

describe("note keyword index", () => {
  it("tokenizes into folded words without stopwords", () => {
    expect(tokenize("The Café in Zürich, and a 2nd one!")).toEqual(["cafe", "zurich", "2nd", "one"]);
    expect(tokenize("東京 tower x")).toEqual(["東京", "tower"]);
    expect(tokenize("")).toEqual([]);
    expect(queryTerms("tea TEA tea, coffee")).toEqual(["tea", "coffee"]);
  });

  it("counts term frequencies, tags included, and bounds the terms of one note", () => {
    const vector = termVector("tea and more tea", ["drinks"]);
    expect([...vector.terms]).toEqual([
      ["tea", 2],
      ["more", 1],
      ["drinks", 1],
    ]);
    expect(vector.length).toBe(4);
    const many = termVector(Array.from({ length: 500 }, (_, i) => `w${i}`).join(" "));
    expect(many.terms.size).toBe(MAX_TERMS_PER_NOTE);
    expect(many.length).toBe(500);
  });

  it("ranks by BM25: frequency, rarity and length matter, ties break by id", () => {
    const postings = new Map([
      [
        "coffee",
        new Map([
          ["a", 1],
          ["b", 3],
          ["c", 1],
        ]),
      ],
      ["sugar", new Map([["c", 1]])],
    ]);
    const lengths = new Map([
      ["a", 10],
      ["b", 10],
      ["c", 10],
    ]);
    const ranked = rankBm25({ documents: 20, totalLength: 200, postings, lengths }, 10);
    expect(ranked.map((r) => r.id)).toEqual(["c", "b", "a"]);
    const shortWins = rankBm25(
      {
        documents: 10,
        totalLength: 100,
        postings: new Map([
          [
            "x",
            new Map([
              ["long", 1],
              ["short", 1],
            ]),
          ],
        ]),
        lengths: new Map([
          ["long", 40],
          ["short", 4],
        ]),
      },
      10,
    );
    expect(shortWins.map((r) => r.id)).toEqual(["short", "long"]);
    const tie = rankBm25(
      {
        documents: 5,
        totalLength: 50,
        postings: new Map([
          [
            "x",
            new Map([
              ["z", 1],
              ["y", 1],
            ]),
          ],
        ]),
        lengths: new Map([
          ["z", 10],
          ["y", 10],
        ]),
      },
      1,
    );
    expect(tie.map((r) => r.id)).toEqual(["y"]);
    expect(rankBm25({ documents: 0, totalLength: 0, postings: new Map(), lengths: new Map() }, 5)).toEqual([]);
  });
});
