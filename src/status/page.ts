// The human status page: complete server-rendered HTML, inline CSS, and a small inline script
// that re-renders from /status every 2 s with the same renderer. No external assets; the CSP
// allows exactly this script and this style by hash.

import { createHash } from "node:crypto";
import type { StatusDocument } from "./document.ts";
import { formatDuration } from "./format.ts";
import { renderSections } from "./page-view.ts";
import { renderSecurityNotice } from "./security-section.ts";

export const REFRESH_MS = 2000;

const widths = Array.from({ length: 21 }, (_, i) => `.w${i * 5}{width:${i * 5}%}`).join("");

const CSS = `
:root{color-scheme:light dark;--bg:#f5f6f8;--panel:#fff;--text:#1b1f24;--muted:#5f6b7a;--line:#e3e6eb;
--ok:#18794e;--ok-bg:#ddf3e4;--warn:#9a5b00;--warn-bg:#fdf0d5;--bad:#c22a2a;--bad-bg:#fde2e1;
--info:#1f5fbf;--info-bg:#dde9fb;--idle:#5f6b7a;--idle-bg:#eceef1}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--panel:#171b21;--text:#e6e9ee;--muted:#939dab;--line:#262c35;
--ok:#4cc38a;--ok-bg:#12301f;--warn:#f0b33c;--warn-bg:#3a2a0c;--bad:#ff6b6b;--bad-bg:#3d1616;
--info:#6aa6ff;--info-bg:#142640;--idle:#a0a9b6;--idle-bg:#232932}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.wrap{max-width:1240px;margin:0 auto;padding:20px 24px 28px}
header{margin-bottom:16px}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);display:flex;align-items:center;gap:8px}
h1{margin:2px 0 6px;font-size:26px;font-weight:650;word-break:break-all}
.meta{display:flex;flex-wrap:wrap;gap:6px 18px;color:var(--muted);font-size:13px}
.meta b{color:var(--text);font-weight:600}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cards{display:grid;grid-template-columns:2fr 1.3fr 1fr 1fr;gap:12px;margin-bottom:16px}
.card,.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px;min-width:0}
.card.conn{border-left:6px solid var(--idle)}
.card.conn.t-ok{border-left-color:var(--ok)}.card.conn.t-warn{border-left-color:var(--warn)}.card.conn.t-bad{border-left-color:var(--bad)}
.label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin-bottom:4px}
.badge{font-size:30px;font-weight:700;display:flex;align-items:center;gap:10px;line-height:1.15}
.conn.t-ok .badge{color:var(--ok)}.conn.t-warn .badge{color:var(--warn)}.conn.t-bad .badge{color:var(--bad)}
.since{font-size:15px;font-weight:600;margin-top:2px}
.big{font-size:24px;font-weight:650;margin:2px 0 4px}
.big .chip{font-size:18px;padding:3px 12px}
.of{font-size:14px;font-weight:500;color:var(--muted)}
.hint{color:var(--muted);font-size:13px;margin-top:2px;overflow-wrap:anywhere}
.hint b{color:var(--text)}
.err{margin-top:8px;padding:6px 8px;border-radius:6px;background:var(--bad-bg);color:var(--bad);font-size:12.5px;overflow-wrap:anywhere}
.dot{width:12px;height:12px;border-radius:50%;display:inline-block;background:var(--idle);flex:none}
.badge .dot{width:16px;height:16px}
.dot.t-ok{background:var(--ok)}.dot.t-warn{background:var(--warn)}.dot.t-bad{background:var(--bad)}
.bar{height:8px;border-radius:4px;background:var(--idle-bg);overflow:hidden;margin:6px 0 4px}
.fill{display:block;height:100%;background:var(--ok)}.fill.t-warn{background:var(--warn)}.fill.t-info{background:var(--info)}
${widths}
.panel{margin-bottom:16px}
h2{margin:0 0 10px;font-size:15px;font-weight:650}
.count{display:inline-block;min-width:22px;padding:0 7px;border-radius:10px;background:var(--idle-bg);color:var(--muted);font-size:12px;text-align:center}
.cols{display:grid;grid-template-columns:3fr 2fr;gap:16px;margin-bottom:16px}
.cols .panel{margin-bottom:0}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse}
th{text-align:left;font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;padding:6px 10px 6px 0;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:7px 10px 7px 0;border-bottom:1px solid var(--line);vertical-align:top;white-space:nowrap}
tr:last-child td{border-bottom:0}
.num{text-align:right}
.errcell{white-space:normal;overflow-wrap:anywhere;min-width:220px;overflow:hidden;display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2}
.errcell .msg{color:var(--muted);margin-left:6px}
.muted{color:var(--muted)}
.empty{color:var(--muted);margin:4px 0}
.chip{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;background:var(--idle-bg);color:var(--idle)}
.chip.t-ok{background:var(--ok-bg);color:var(--ok)}.chip.t-warn{background:var(--warn-bg);color:var(--warn)}
.chip.t-bad{background:var(--bad-bg);color:var(--bad)}.chip.t-info{background:var(--info-bg);color:var(--info)}
footer{display:flex;flex-wrap:wrap;justify-content:space-between;gap:6px 16px;margin-top:16px;color:var(--muted);font-size:12px}
.stale{background:var(--bad);color:#fff;padding:8px 24px;font-weight:600;text-align:center}
.stale[hidden]{display:none}
@media (max-width:1000px){.cards{grid-template-columns:1fr 1fr}.cols{grid-template-columns:1fr}}
@media (max-width:560px){.wrap{padding:14px 12px 20px}.card.wide{grid-column:span 2}h1{font-size:21px}.badge{font-size:26px}
.big{font-size:21px}
table,tbody,tr,td{display:block}thead{display:none}
tr{display:flex;flex-wrap:wrap;align-items:baseline;gap:3px 14px;padding:9px 0;border-bottom:1px solid var(--line)}
tr:last-child{border-bottom:0}
td{border:0;padding:0;white-space:normal;text-align:left}
td:first-child{flex-basis:100%;font-weight:600}
td:not(:first-child)::before{content:attr(data-label);color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.04em;margin-right:5px}
td:not(:first-child) .errcell{display:inline}
.errcell{max-width:none;white-space:normal;overflow-wrap:anywhere}}
.insecure{background:var(--bad-bg);color:var(--bad);border:1px solid var(--bad);border-radius:10px;padding:10px 14px;margin-bottom:16px}
`;

// The browser half: fetch /status, re-render with the server's renderer, flag a stale page.
const SCRIPT = `
(() => {
  const render = ${renderSections.toString()};
  const dur = ${formatDuration.toString()};
  const security = ${renderSecurityNotice.toString()};
  const stale = document.getElementById("stale");
  const icon = document.getElementById("icon");
  let lastOk = Date.now();
  const apply = (doc) => {
    const s = render(doc, dur);
    for (const key of ["header", "summary", "running", "recent", "workers", "footer"]) {
      const el = document.getElementById("s-" + key);
      if (el !== null && el.innerHTML !== s[key]) el.innerHTML = s[key];
    }
    const notice = document.getElementById("s-security");
    if (notice !== null && notice.innerHTML !== security(doc)) notice.innerHTML = security(doc);
    document.title = s.title;
    if (icon !== null) icon.href = icon.dataset[s.tone] || icon.href;
  };
  const tick = async () => {
    try {
      const res = await fetch("./status", { cache: "no-store", headers: { accept: "application/json" } });
      if (!res.ok) throw new Error("HTTP " + res.status);
      apply(await res.json());
      lastOk = Date.now();
      stale.hidden = true;
    } catch (error) {
      stale.textContent = "Cannot reach the runner (" + (error && error.message ? error.message : "error") +
        "): this page is " + Math.round((Date.now() - lastOk) / 1000) + " s old.";
      stale.hidden = false;
    }
    setTimeout(tick, ${REFRESH_MS});
  };
  setTimeout(tick, ${REFRESH_MS});
})();
`;

const hash = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

/** The page's CSP: nothing external, only this script and this style, fetch to the same origin. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(CSS)}`,
  "img-src data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const ICON_COLOURS = { ok: "#2fa36b", warn: "#e0a028", bad: "#d93a3a" } as const;
const icon = (colour: string): string =>
  "data:image/svg+xml," + encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${colour}"/></svg>`);

/** `extra`: server-rendered sections of other parts (trusted HTML, already escaped). */
export function renderPage(doc: StatusDocument, extra = ""): string {
  const s = renderSections(doc);
  const attr = (v: string): string => v.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const text = (v: string): string => attr(v).replace(/>/g, "&gt;");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<noscript><meta http-equiv="refresh" content="10"></noscript>
<title>${text(s.title)}</title>
<link id="icon" rel="icon" href="${attr(icon(ICON_COLOURS[s.tone]))}" data-ok="${attr(icon(ICON_COLOURS.ok))}" data-warn="${attr(icon(ICON_COLOURS.warn))}" data-bad="${attr(icon(ICON_COLOURS.bad))}">
<style>${CSS}</style>
</head>
<body>
<div id="stale" class="stale" role="alert" hidden></div>
<div class="wrap">
<header id="s-header">${s.header}</header>
<div id="s-security">${renderSecurityNotice(doc)}</div>
<main>
<section id="s-summary" class="cards" aria-label="Summary">${s.summary}</section>
<div class="cols">
<section id="s-running" class="panel">${s.running}</section>
<section id="s-workers" class="panel">${s.workers}</section>
</div>
<section id="s-recent" class="panel">${s.recent}</section>
${extra}
</main>
<footer id="s-footer">${s.footer}</footer>
</div>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
