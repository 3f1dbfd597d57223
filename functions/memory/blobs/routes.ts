import { createHash } from "node:crypto";
import {
  BlobDigest,
  type BlobResponse,
  PutBlobRequest,
  type PutBlobResponse,
} from "../../../clients/memory/contract/blobs.ts";
import { RunId } from "../../../clients/memory/contract/fields.ts";
import { memoryError, notFound } from "../http/errors.ts";
import { readParam } from "../http/request.ts";
import { body, instanceFor, type MemoryApp, type RouteDeps } from "../http/routes.ts";
import type { BlobStore } from "./store.ts";

/** `PUT`/`GET I/runs/:id/blobs/:sha256`: a run's blobs, with the permissions of the run itself. */
export function blobRoutes(app: MemoryApp, blobs: BlobStore, deps: RouteDeps): void {
  app.put("/v1/instances/:instance/runs/:id/blobs/:sha256", async (c) => {
    const instance = instanceFor(c, "runs:write");
    const id = readParam(c, "id", RunId);
    const sha256 = readParam(c, "sha256", BlobDigest);
    const { content } = await body(c, deps, PutBlobRequest);
    // Content-addressed: the name must be the content's digest, so a blob can never be overwritten by other content.
    if (createHash("sha256").update(content).digest("hex") !== sha256) {
      throw memoryError(400, "invalid_request", "params.sha256: not the sha256 of the content");
    }
    await blobs.put(instance, id, { sha256, content, now: deps.now(), retentionMs: deps.config.runRetentionMs });
    const answer: PutBlobResponse = { sha256, bytes: Buffer.byteLength(content) };
    return c.json(answer);
  });

  app.get("/v1/instances/:instance/runs/:id/blobs/:sha256", async (c) => {
    const instance = instanceFor(c, "runs:read");
    const id = readParam(c, "id", RunId);
    const sha256 = readParam(c, "sha256", BlobDigest);
    const content = await blobs.get(instance, id, sha256, deps.now());
    if (content === undefined) throw notFound("blob");
    const answer: BlobResponse = { sha256, bytes: Buffer.byteLength(content), content };
    return c.json(answer);
  });
}
