/**
 * An HTTP/1.1 response parser for the broker's delivery client (RFC 9112): status line, header fields, and the
 * three body framings (Content-Length, chunked, until close). Pure: fed bytes, it reports a complete response, asks
 * for more, or throws ResponseParseError. Interim 1xx responses (except 101) are skipped, as clients must.
 */
export class ResponseParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResponseParseError";
  }
}

export class ResponseTooLargeError extends Error {
  constructor(limit: number) {
    super(`response body exceeds ${limit} bytes`);
    this.name = "ResponseTooLargeError";
  }
}

export interface ParsedResponse {
  status: number;
  /** Lowercased names; repeated fields joined with ", ". */
  headers: Map<string, string>;
  body: Uint8Array;
  /** The connection may carry another request (keep-alive and length-delimited body). */
  reusable: boolean;
}

type Phase = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailers" | "close";

const CRLF_CRLF = Buffer.from("\r\n\r\n");
/** RFC 9110 token characters, checked without a regular expression per header line. */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TOKEN_CHARS[c.charCodeAt(0)] = 1;

function isToken(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || TOKEN_CHARS[code] === 0) return false;
  }
  return true;
}

export class ResponseParser {
  private readonly maxHeaderBytes: number;
  private readonly maxBodyBytes: number;
  private buffer: Buffer = Buffer.alloc(0);
  private phase: Phase = "head";
  private status = 0;
  private headers = new Map<string, string>();
  private keepAlive = true;
  private remaining = 0;
  private chunks: Buffer[] = [];
  private bodyBytes = 0;

  constructor(maxHeaderBytes: number, maxBodyBytes: number) {
    this.maxHeaderBytes = maxHeaderBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  /** Bytes received before any response started count as garbage for an idle connection. */
  get started(): boolean {
    return this.phase !== "head" || this.buffer.length > 0;
  }

  /** Feed bytes; returns the response once complete (extra bytes after it are a protocol error). */
  push(data: Buffer): ParsedResponse | undefined {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    for (;;) {
      switch (this.phase) {
        case "head": {
          const end = this.buffer.indexOf(CRLF_CRLF);
          if (end < 0) {
            if (this.buffer.length > this.maxHeaderBytes)
              throw new ResponseParseError("response header section too large");
            return undefined;
          }
          if (end > this.maxHeaderBytes) throw new ResponseParseError("response header section too large");
          const head = this.buffer.toString("latin1", 0, end);
          this.buffer = this.buffer.subarray(end + 4);
          if (this.readHead(head)) continue; // an interim 1xx: the real response follows
          if ((this.phase as Phase) === "length" && this.remaining === 0) return this.finish();
          continue;
        }
        case "length": {
          if (this.buffer.length === 0) return undefined;
          const take = Math.min(this.remaining, this.buffer.length);
          this.addBody(this.buffer.subarray(0, take));
          this.buffer = this.buffer.subarray(take);
          this.remaining -= take;
          if (this.remaining > 0) return undefined;
          return this.finish();
        }
        case "chunk-size": {
          const end = this.buffer.indexOf("\r\n");
          if (end < 0) {
            if (this.buffer.length > 1024) throw new ResponseParseError("chunk size line too long");
            return undefined;
          }
          const line = this.buffer.toString("latin1", 0, end);
          this.buffer = this.buffer.subarray(end + 2);
          const size = line.split(";", 1)[0]!.trim();
          if (!/^[0-9A-Fa-f]{1,8}$/.test(size)) throw new ResponseParseError("invalid chunk size");
          this.remaining = Number.parseInt(size, 16);
          this.phase = this.remaining === 0 ? "trailers" : "chunk-data";
          continue;
        }
        case "chunk-data": {
          if (this.buffer.length === 0) return undefined;
          const take = Math.min(this.remaining, this.buffer.length);
          this.addBody(this.buffer.subarray(0, take));
          this.buffer = this.buffer.subarray(take);
          this.remaining -= take;
          if (this.remaining > 0) return undefined;
          this.phase = "chunk-crlf";
          continue;
        }
        case "chunk-crlf": {
          if (this.buffer.length < 2) return undefined;
          if (this.buffer[0] !== 13 || this.buffer[1] !== 10)
            throw new ResponseParseError("missing CRLF after chunk data");
          this.buffer = this.buffer.subarray(2);
          this.phase = "chunk-size";
          continue;
        }
        case "trailers": {
          const end = this.buffer.indexOf("\r\n");
          if (end < 0) {
            if (this.buffer.length > this.maxHeaderBytes) throw new ResponseParseError("trailer section too large");
            return undefined;
          }
          this.buffer = this.buffer.subarray(end + 2);
          if (end === 0) return this.finish();
          continue;
        }
        case "close": {
          if (this.buffer.length > 0) {
            this.addBody(this.buffer);
            this.buffer = Buffer.alloc(0);
          }
          return undefined;
        }
      }
    }
  }

  /** The peer closed the connection: completes a close-delimited body, anything else was cut short. */
  end(): ParsedResponse {
    if (this.phase === "close") return this.finish();
    throw new ResponseParseError(
      this.phase === "head" && this.buffer.length === 0
        ? "connection closed before a response"
        : "connection closed mid-response",
    );
  }

  /** Parses the status line and header fields; returns true for an interim 1xx response to skip. */
  private readHead(head: string): boolean {
    const firstEnd = head.indexOf("\r\n");
    const statusLine = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: .*)?$/.exec(firstEnd < 0 ? head : head.slice(0, firstEnd));
    if (!statusLine) throw new ResponseParseError("malformed status line");
    const minor = statusLine[1];
    const status = Number(statusLine[2]);
    const headers = new Map<string, string>();
    let start = firstEnd < 0 ? head.length : firstEnd + 2;
    while (start < head.length) {
      let end = head.indexOf("\r\n", start);
      if (end < 0) end = head.length;
      const colon = head.indexOf(":", start);
      if (colon <= start || colon > end || !isToken(head, start, colon))
        throw new ResponseParseError("malformed header field");
      const name = head.slice(start, colon).toLowerCase();
      const value = head.slice(colon + 1, end).trim();
      const previous = headers.get(name);
      headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
      start = end + 2;
    }
    if (status === 101) throw new ResponseParseError("unexpected protocol switch");
    if (status < 200) return true;
    this.status = status;
    this.headers = headers;
    const connection = (headers.get("connection") ?? "").toLowerCase();
    this.keepAlive = minor === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const transferEncoding = headers.get("transfer-encoding");
    const contentLength = headers.get("content-length");
    if (status === 204 || status === 304) {
      this.phase = "length";
      this.remaining = 0;
    } else if (transferEncoding !== undefined) {
      // A message with both is a smuggling risk (RFC 9112 §6.1): treat it as chunked and never reuse the connection.
      if (!/(^|,)\s*chunked\s*$/i.test(transferEncoding)) throw new ResponseParseError("unsupported transfer-encoding");
      if (contentLength !== undefined) this.keepAlive = false;
      this.phase = "chunk-size";
    } else if (contentLength !== undefined) {
      const values = contentLength.split(",").map((v) => v.trim());
      if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0]))
        throw new ResponseParseError("invalid content-length");
      this.remaining = Number(values[0]);
      if (this.remaining > this.maxBodyBytes) throw new ResponseTooLargeError(this.maxBodyBytes);
      this.phase = "length";
    } else {
      this.phase = "close";
      this.keepAlive = false;
    }
    return false;
  }

  private addBody(chunk: Buffer): void {
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > this.maxBodyBytes) throw new ResponseTooLargeError(this.maxBodyBytes);
    this.chunks.push(chunk);
  }

  private finish(): ParsedResponse {
    if (this.buffer.length > 0) throw new ResponseParseError("unexpected bytes after the response");
    const body =
      this.chunks.length === 0
        ? new Uint8Array(0)
        : this.chunks.length === 1
          ? this.chunks[0]!
          : Buffer.concat(this.chunks);
    const response = {
      status: this.status,
      headers: this.headers,
      body,
      reusable: this.keepAlive && this.phase !== "close",
    };
    this.phase = "head";
    this.chunks = [];
    this.bodyBytes = 0;
    this.headers = new Map();
    return response;
  }
}
