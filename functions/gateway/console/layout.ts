import { html as honoHtml } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

/**
 * Server-rendered HTML with hono's `html` tag: every interpolated value is escaped unless it is itself an
 * `html` fragment. The console never interpolates promises, so a fragment is a plain string.
 */
export type Html = HtmlEscapedString;

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return honoHtml(strings, ...values) as Html;
}

const NAV = [
  { href: "/console/runs", label: "Runs" },
  { href: "/console/approvals", label: "Approvals" },
  { href: "/console/instances", label: "Instances" },
  { href: "/console/deadletters", label: "Dead letters" },
  { href: "/console/pairing", label: "Pairing" },
] as const;

export interface PageUser {
  tokenName: string;
  csrf: string;
}

/** A hidden CSRF field: every state-changing form carries it. */
export function csrfField(user: PageUser): Html {
  return html`<input type="hidden" name="csrf" value="${user.csrf}" />`;
}

export function page(title: string, body: Html, user?: PageUser, current?: string): string {
  const nav =
    user === undefined
      ? ""
      : html`<header class="top">
          <span class="brand">knclaw</span>
          <nav aria-label="Console">
            <ul>
              ${NAV.map(
                (item) =>
                  html`<li><a href="${item.href}"${item.href === current ? html` aria-current="page"` : ""}>${item.label}</a></li>`,
              )}
            </ul>
          </nav>
          <form method="post" action="/console/logout" class="signout">
            ${csrfField(user)}<span class="who">http:${user.tokenName}</span>
            <button type="submit">Sign out</button>
          </form>
        </header>`;
  return `<!doctype html>${html`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · knclaw console</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <link rel="icon" href="data:," />
        <script src="/console/assets/console.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        ${nav}
        <main id="main" tabindex="-1">
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`}`;
}

export function time(ms: number | undefined): Html | string {
  if (ms === undefined) return "";
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace("T", " ")}</time>`;
}

export function usd(value: number | undefined): string {
  return value === undefined ? "" : `$${value.toFixed(value < 0.01 && value > 0 ? 6 : 4)}`;
}

/** A fixed set of notices a redirect may name (`?notice=`): the page never echoes text from the URL. */
const NOTICES: Record<string, string> = {
  approved: "Approval sent: the agent runs the call.",
  denied: "Denial sent: the agent tells the model the call was refused.",
  replayed: "Dead letter replayed to the broker.",
  discarded: "Dead letter discarded.",
  "pairing-approved": "Pairing approved.",
  "pairing-denied": "Pairing denied.",
};

export function notice(key: string | undefined): Html | string {
  const text = key === undefined ? undefined : NOTICES[key];
  return text === undefined ? "" : html`<p class="notice" role="status">${text}</p>`;
}
