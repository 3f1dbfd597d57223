/**
 * Run blobs (clients/memory/contract/blobs.ts): content by sha256 per run, kept as long as the run is. Both backends
 * decide visibility the same way: a blob of a live run is there; a blob of a run that does not exist (yet) is there
 * for `retentionMs` after its last write; a blob of a finished run goes with the run.
 */
export interface BlobStore {
  put(instance: string, runId: string, input: BlobWrite): Promise<void>;
  get(instance: string, runId: string, sha256: string, now: number): Promise<string | undefined>;
}

export interface BlobWrite {
  sha256: string;
  content: string;
  now: number;
  /** How long a blob whose run does not exist yet is kept (the run retention). */
  retentionMs: number;
}
