/**
 * The console's only assets, served by the gateway itself (no CDN, no build step): one stylesheet and one small
 * script that keeps the run list and a run's timeline live over Server-Sent Events. The pages allow nothing else
 * (Content-Security-Policy in routes.ts), so there is no inline script or style anywhere.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad;
  --ok: #1a7f37; --bad: #b42318; --warn: #9a6700; --card: #f6f8fa; font-family: system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #30363d;
  --accent: #4c9be8; --ok: #3fb950; --bad: #f85149; --warn: #d29922; --card: #161b22; } }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.top { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; }
.top ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
.top a[aria-current="page"] { font-weight: 700; text-decoration: none; }
.signout { margin-left: auto; display: flex; gap: .6rem; align-items: center; }
.who { color: var(--muted); font-size: .9rem; }
main { padding: 1rem 1.2rem 3rem; max-width: 72rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; } h3 { font-size: 1rem; margin: 0 0 .3rem; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
button { font: inherit; padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 6px; background: var(--card);
  color: var(--fg); cursor: pointer; }
button.approve { border-color: var(--ok); color: var(--ok); } button.deny { border-color: var(--bad); color: var(--bad); }
input, select { font: inherit; padding: .3rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
.filters { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
.login { display: grid; gap: .5rem; max-width: 24rem; }
.status { padding: 0 .4rem; border-radius: 1rem; border: 1px solid currentColor; font-size: .85rem; }
.status-completed { color: var(--ok); } .status-failed, .status-cancelled { color: var(--bad); }
.status-waiting { color: var(--warn); } .status-running, .status-queued { color: var(--accent); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.timeline { list-style: none; padding: 0; border-left: 2px solid var(--line); }
.item { margin: 0 0 1rem; padding: .2rem 0 .2rem 1rem; }
.meta, .hint, .live { color: var(--muted); font-size: .88rem; }
.calls { list-style: none; padding-left: .6rem; }
.call { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; margin: .4rem 0; background: var(--card); }
h4, h5 { margin: .2rem 0; font-size: .92rem; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--bg); border: 1px solid var(--line); padding: .4rem;
  border-radius: 4px; font-size: .85rem; max-height: 20rem; overflow: auto; }
.result.error h5, .outcome.failed h3, .error { color: var(--bad); }
.held h5 { color: var(--warn); } .outcome.completed h3 { color: var(--ok); }
.notice { border: 1px solid var(--ok); padding: .4rem .7rem; border-radius: 6px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .6rem 1rem; margin: .8rem 0; }
.approvals { list-style: none; padding: 0; }
.decide, .inline { display: inline-flex; gap: .4rem; }
.pages { display: flex; gap: 1rem; margin-top: .8rem; }
.audit td:last-child code { word-break: break-all; }
`;

export const CONSOLE_JS = `"use strict";
// Live regions: an element with data-stream="<url>" is replaced by each "html" event of that Server-Sent Events
// stream (fragments the server rendered and escaped). The stream ends itself when there is nothing more to follow.
function follow(element) {
  var url = element.getAttribute("data-stream");
  if (!url) return;
  var source = new EventSource(url);
  source.addEventListener("html", function (event) {
    var focused = document.activeElement && element.contains(document.activeElement) ? document.activeElement.id : "";
    element.innerHTML = event.data;
    if (focused) { var again = document.getElementById(focused); if (again) again.focus(); }
  });
  source.addEventListener("end", function () { source.close(); });
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-stream]").forEach(follow);
});
`;
