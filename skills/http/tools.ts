import { z } from "zod";
import { defineTool } from "../package/tool.ts";

const url = z.string().min(1).max(2048).describe("Absolute http(s) URL on a host this skill is allowed to reach");
const headers = z
  .record(
    z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/),
    z
      .string()
      .max(2048)
      .regex(/^[^\r\n\0]*$/),
  )
  .optional()
  .describe("Extra request headers (hop-by-hop and framing headers are not allowed)");

const httpGet = defineTool({
  name: "get",
  description:
    "Fetch a URL with GET. HTML is reduced to text; JSON and text are returned as text; binary bodies are omitted.",
  input: z.object({ url, headers }).strict(),
  mutates: false,
  approval: false,
  groups: ["http:read"],
});

/** A POST may change something on the other side, so it waits for approval by default. */
const httpPost = defineTool({
  name: "post",
  description: "Send a POST to a URL with a JSON or text body and return the response like `get`.",
  input: z
    .object({
      url,
      headers,
      json: z.unknown().optional().describe("A JSON body (sent as application/json)"),
      body: z
        .string()
        .max(64 * 1024)
        .optional()
        .describe("A text body, when json is not given"),
      contentType: z
        .string()
        .max(128)
        .regex(/^[^\r\n\0]*$/)
        .optional()
        .describe("Content-Type of `body`"),
    })
    .strict()
    .refine((args) => !(args.json !== undefined && args.body !== undefined), "give either json or body, not both"),
  mutates: true,
  approval: true,
  groups: ["http:write"],
});

export const tools = [httpGet, httpPost] as const;
