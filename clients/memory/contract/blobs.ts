import { z } from "zod";

/**
 * Run blobs: large pieces of a run (tool results, model outputs) stored beside its document, content-addressed by the
 * sha256 of their UTF-8 text, so the run document keeps only a reference and stays small. A blob lives exactly as
 * long as its run (the same retention and instance scoping); one written before its run exists lives for the run
 * retention, as the run it is written for would.
 */

/** Lowercase hex sha256 of the content's UTF-8 bytes: the blob's name. */
export const BlobDigest = z.string().regex(/^[0-9a-f]{64}$/, "a lowercase hex sha256");

/** What one blob may hold: well under the service's 1 MiB request limit, even with JSON escaping. */
export const MAX_BLOB_CHARS = 384 * 1024;

export const PutBlobRequest = z.strictObject({ content: z.string().max(MAX_BLOB_CHARS) });
export type PutBlobRequest = z.infer<typeof PutBlobRequest>;

export const BlobResponse = z.object({ sha256: BlobDigest, bytes: z.int().min(0), content: z.string() });
export type BlobResponse = z.infer<typeof BlobResponse>;

export const PutBlobResponse = z.object({ sha256: BlobDigest, bytes: z.int().min(0) });
export type PutBlobResponse = z.infer<typeof PutBlobResponse>;
