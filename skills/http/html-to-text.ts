/**
 * HTML reduced to readable text for a model: one linear pass, no DOM, no regular expressions over the document (so
 * no backtracking blow-ups on hostile input). Scripts, styles and other non-content elements are dropped, block
 * elements become line breaks, links keep their target, entities are decoded, whitespace is collapsed.
 */
const SKIP_CONTENT = new Set(["script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"]);
const BLOCK = new Set([
  "address",
  "article",
  "aside",
  "blockquote",
  "body",
  "dd",
  "div",
  "dl",
  "dt",
  "fieldset",
  "figcaption",
  "figure",
  "footer",
  "form",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "header",
  "hr",
  "html",
  "main",
  "nav",
  "ol",
  "p",
  "pre",
  "section",
  "table",
  "tbody",
  "thead",
  "tfoot",
  "tr",
  "ul",
  "title",
  "details",
  "summary",
  "caption",
]);
const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  copy: "©",
  reg: "®",
  trade: "™",
  hellip: "…",
  mdash: "—",
  ndash: "–",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  bull: "•",
  middot: "·",
  euro: "€",
  pound: "£",
  yen: "¥",
  cent: "¢",
  deg: "°",
  times: "×",
  divide: "÷",
  laquo: "«",
  raquo: "»",
  shy: "",
};

export function htmlToText(html: string): string {
  const out: string[] = [];
  let i = 0;
  let pre = 0;
  let pendingHref: string | undefined;
  const n = html.length;
  // Lowercased once: closing-tag searches must not re-lowercase the document per element.
  const lower = html.toLowerCase();
  const emitText = (raw: string) => {
    let value = text(raw, pre > 0);
    // Collapsed whitespace right after a line break is indentation of the source, not of the text.
    if (pre === 0 && (out.length === 0 || out[out.length - 1]!.endsWith("\n"))) value = value.replace(/^ +/, "");
    if (value !== "") out.push(value);
  };
  while (i < n) {
    const lt = html.indexOf("<", i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) emitText(html.slice(i, textEnd));
    if (lt < 0) break;
    i = lt;
    if (html.startsWith("<!--", i)) {
      const end = html.indexOf("-->", i + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    const tag = readTag(html, i);
    if (!tag) {
      emitText("<");
      i += 1;
      continue;
    }
    i = tag.end;
    if (tag.name === "") continue; // <!doctype>, <?xml?>
    if (!tag.closing && SKIP_CONTENT.has(tag.name) && !tag.selfClosing) {
      i = skipElement(html, lower, i, tag.name);
      continue;
    }
    if (tag.name === "br") out.push("\n");
    else if (tag.name === "li") out.push(tag.closing ? "" : "\n- ");
    else if (tag.name === "td" || tag.name === "th") out.push(tag.closing ? "" : " | ");
    else if (BLOCK.has(tag.name)) out.push("\n\n");
    if (tag.name === "pre") pre = Math.max(0, pre + (tag.closing ? -1 : 1));
    if (tag.name === "a") {
      if (!tag.closing) pendingHref = tag.href;
      else if (pendingHref) {
        out.push(` (${pendingHref})`);
        pendingHref = undefined;
      }
    }
  }
  return tidy(out.join(""));
}

interface Tag {
  name: string;
  closing: boolean;
  selfClosing: boolean;
  end: number;
  href?: string;
}

/** Read a tag starting at `<`; undefined when it is a stray `<` in text. Quoted attribute values may contain `>`. */
function readTag(html: string, start: number): Tag | undefined {
  let i = start + 1;
  const closing = html[i] === "/";
  if (closing) i++;
  if (html[i] === "!" || html[i] === "?") {
    const end = html.indexOf(">", i);
    return { name: "", closing: false, selfClosing: true, end: end < 0 ? html.length : end + 1 };
  }
  const nameStart = i;
  while (i < html.length && /[A-Za-z0-9-]/.test(html[i]!)) i++;
  if (i === nameStart || !/[A-Za-z]/.test(html[nameStart]!)) return undefined;
  const name = html.slice(nameStart, i).toLowerCase();
  let href: string | undefined;
  let quote: string | undefined;
  const attrStart = i;
  for (; i < html.length; i++) {
    const c = html[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") break;
  }
  const attributes = html.slice(attrStart, i);
  if (name === "a") href = readHref(attributes);
  const tag: Tag = {
    name,
    closing,
    selfClosing: attributes.trimEnd().endsWith("/"),
    end: Math.min(i + 1, html.length),
  };
  if (href !== undefined) tag.href = href;
  return tag;
}

function readHref(attributes: string): string | undefined {
  const lower = attributes.toLowerCase();
  let at = lower.indexOf("href");
  while (at >= 0) {
    const before = at === 0 ? " " : lower[at - 1]!;
    let j = at + 4;
    while (lower[j] === " ") j++;
    if (/\s/.test(before) && lower[j] === "=") {
      j++;
      while (lower[j] === " ") j++;
      const q = attributes[j];
      const value =
        q === '"' || q === "'"
          ? attributes.slice(j + 1, Math.max(j + 1, attributes.indexOf(q, j + 1)))
          : attributes.slice(j).split(/[\s>]/, 1)[0]!;
      const decoded = decodeEntities(value).trim();
      return /^https?:\/\//i.test(decoded) ? decoded : undefined;
    }
    at = lower.indexOf("href", at + 4);
  }
  return undefined;
}

function skipElement(html: string, lower: string, from: number, name: string): number {
  let at = lower.indexOf(`</${name}`, from);
  while (at >= 0) {
    const after = lower[at + 2 + name.length];
    if (after === undefined || after === ">" || /\s|\//.test(after)) {
      const end = html.indexOf(">", at);
      return end < 0 ? html.length : end + 1;
    }
    at = lower.indexOf(`</${name}`, at + 1);
  }
  return html.length;
}

function text(raw: string, preformatted: boolean): string {
  const decoded = decodeEntities(raw);
  return preformatted ? decoded : decoded.replace(/[ \t\r\n\f]+/g, " ");
}

export function decodeEntities(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});/g, (whole, body: string) => {
    if (body.startsWith("#")) {
      const code = body[1] === "x" || body[1] === "X" ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return "\uFFFD";
      return String.fromCodePoint(code);
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

function tidy(value: string): string {
  return value
    .split("\n")
    .map((line) => line.replace(/[ \t]+$/, ""))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
