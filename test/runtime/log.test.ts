import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { redactPaths } from "../../runtime/log.ts";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino({ redact: { paths: redactPaths(), censor: "[redacted]" } }, stream);
  return { log, lines };
}

describe("log redaction", () => {
  it("redacts secrets by key at the top level, nested, and in headers", () => {
    const { log, lines } = capture();
    log.info(
      {
        token: "tok-123",
        apiKey: "sk-live",
        request: { headers: { authorization: "Bearer abc", "x-hub-signature-256": "sha256=ff" } },
        outer: { inner: { secret: "s3cr3t" } },
        safe: "visible",
      },
      "event",
    );
    const line = lines.join("");
    for (const secret of ["tok-123", "sk-live", "Bearer abc", "sha256=ff", "s3cr3t"]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain("visible");
    expect(line).toContain("[redacted]");
  });
});
