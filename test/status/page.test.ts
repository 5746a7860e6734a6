import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { PAGE_CSP, renderPage } from "../../src/status/page.ts";
import { renderSections, type PageSections } from "../../src/status/page-view.ts";
import { statusDocument, type StatusDocument } from "../../src/status/document.ts";
import { formatDuration } from "../../src/status/format.ts";
import { Redactor } from "../../src/log/redact.ts";
import { snapshotFixture, NOW } from "./fixtures.ts";

const EVIL = "<script>alert(1)</script>";
const docFor = (overrides = {}) => statusDocument(snapshotFixture(overrides), new Redactor());
const inline = (html: string, tag: "script" | "style") => new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)?.[1] ?? "";
const sha = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

test("renderPage() escapes every text from the snapshot", () => {
  const html = renderPage(docFor({
    runnerId: EVIL,
    group: `"><img src=x onerror=alert(1)>`,
    running: [{ jobId: EVIL, attempt: 1, plugin: EVIL, action: EVIL, startedAt: NOW - 1 }],
    recent: [{ jobId: EVIL, attempt: 1, plugin: "p", status: "failed", errorCode: EVIL, errorMessage: `${EVIL}"'`, durationMs: 1, finishedAt: NOW }],
    workers: [{ id: 1, plugin: EVIL, state: "idle", jobsServed: 0, startedAt: NOW }],
    loops: [{ name: EVIL, lastTickAt: NOW, maxSilenceMs: 1000 }],
  }));
  const body = html.replace(inline(html, "script"), "");
  expect(body).not.toContain("<script>alert");
  expect(body).not.toContain("<img");
  expect(body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  expect(html.match(/<script>/g)).toHaveLength(1);
});

test("renderPage() is complete without JavaScript and refreshes itself in <noscript>", () => {
  const html = renderPage(docFor());
  expect(html).toContain('<noscript><meta http-equiv="refresh" content="10"></noscript>');
  for (const text of ["runner-eu-1", "default", "1.2.3", "Connected", "since 3 m 12 s", "Ready", "job-1", "12 s", "job-9", "plugin_error", "exit status 1", "1 m 33 s", "12.0 MiB", "1 h 0 m"]) {
    expect(html).toContain(text);
  }
});

test("renderPage() shows a lost session as disconnected for the outage's length, with real reconnects and failed attempts apart", () => {
  const html = renderPage(docFor({
    state: "connecting",
    connection: { state: "backoff", since: NOW - 2_000, firstConnectedAt: NOW - 3_600_000, disconnectedSince: NOW - 42_000, reconnects: 5, failedAttempts: 7, protocolErrors: 0, lastError: "connect ECONNREFUSED 10.0.0.5:443" },
  }));
  expect(html).toContain("Disconnected");
  expect(html).toContain("for 42 s");
  expect(html).toContain("last error: connect ECONNREFUSED 10.0.0.5:443");
  expect(html).toContain("5 reconnects · 7 failed attempts");
  expect(html).toContain("Not connected");
});

test("PAGE_CSP allows exactly the inline script and style by hash", () => {
  const html = renderPage(docFor());
  expect(PAGE_CSP).toContain(`script-src ${sha(inline(html, "script"))}`);
  expect(PAGE_CSP).toContain(`style-src ${sha(inline(html, "style"))}`);
  expect(inline(html, "script")).not.toMatch(/<\/script|<!--/i);
  // Inline style attributes would be blocked by this CSP; the renderer must use classes only.
  expect(html).not.toMatch(/\sstyle=/);
});

test("renderSections() matches formatDuration() for the readiness reason's units", () => {
  for (const ms of [850, 4_260, 42_900, 192_000, 7_500_000, 273_600_000]) {
    const doc = { ...docFor(), uptimeMs: ms };
    expect(renderSections(doc).summary).toContain(`<div class="big">${formatDuration(ms)}</div>`);
  }
});

/** Runs the page's inline script against a stub DOM and returns what it rendered from `doc`. */
async function runInlineScript(html: string, doc: StatusDocument): Promise<{ sections: Record<string, string>; title: string }> {
  const elements = new Map<string, { innerHTML: string; hidden?: boolean; textContent?: string; href?: string; dataset?: Record<string, string> }>();
  const document = {
    title: "",
    getElementById: (id: string) => {
      if (!elements.has(id)) elements.set(id, { innerHTML: "", dataset: { ok: "ok-icon", warn: "warn-icon", bad: "bad-icon" } });
      return elements.get(id);
    },
  };
  const timers: Array<() => Promise<void> | void> = [];
  const fetch = async (url: string) => {
    expect(url).toBe("./status");
    return { ok: true, status: 200, json: async () => structuredClone(doc) };
  };
  new Function("document", "fetch", "setTimeout", inline(html, "script"))(document, fetch, (fn: () => void) => timers.push(fn));
  await timers.shift()?.();
  const sections: Record<string, string> = {};
  for (const key of ["header", "summary", "running", "recent", "workers", "footer"]) sections[key] = elements.get(`s-${key}`)?.innerHTML ?? "";
  expect(elements.get("stale")?.hidden).toBe(true);
  expect(timers).toHaveLength(1);
  return { sections, title: document.title };
}

function expected(s: PageSections) {
  const { header, summary, running, recent, workers, footer } = s;
  return { sections: { header, summary, running, recent, workers, footer }, title: s.title };
}

test("renderPage()'s inline script re-renders /status exactly as the server does", async () => {
  const later = docFor({ now: NOW + 4_000, freeSlots: 0, state: "ready" });
  expect(await runInlineScript(renderPage(docFor()), later)).toEqual(expected(renderSections(later)));
});

test("renderPage()'s inline script flags a page it cannot refresh", async () => {
  const elements = new Map<string, Record<string, unknown>>();
  const document = { title: "", getElementById: (id: string) => elements.get(id) ?? elements.set(id, { innerHTML: "" }).get(id) };
  const timers: Array<() => Promise<void>> = [];
  const fetch = async () => ({ ok: false, status: 503, json: async () => ({}) });
  new Function("document", "fetch", "setTimeout", inline(renderPage(docFor()), "script"))(document, fetch, (fn: () => Promise<void>) => timers.push(fn));
  await timers.shift()?.();
  expect(elements.get("stale")?.hidden).toBe(false);
  expect(String(elements.get("stale")?.textContent)).toStartWith("Cannot reach the runner (HTTP 503)");
});

// The inline script is the renderer's own source (Function.prototype.toString); a minifier
// must not make it depend on anything outside itself. Checked with both production bundlers.
for (const bundler of ["esbuild", "bun"] as const) {
  test(`renderPage()'s inline script still works after a minified ${bundler} build`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "status-page-"));
    try {
      const entry = join(import.meta.dir, "../../src/status/page.ts");
      let code: string;
      if (bundler === "esbuild") {
        const out = await build({ entryPoints: [entry], bundle: true, minify: true, format: "esm", platform: "node", target: "node20", write: false, logLevel: "silent" });
        code = out.outputFiles[0]?.text ?? "";
      } else {
        const out = await Bun.build({ entrypoints: [entry], minify: true, format: "esm", target: "bun" });
        code = (await out.outputs[0]?.text()) ?? "";
      }
      const file = join(dir, "page.mjs");
      writeFileSync(file, code);
      const built = (await import(file)) as { renderPage: typeof renderPage };
      const later = docFor({ now: NOW + 9_000 });
      expect(await runInlineScript(built.renderPage(docFor()), later)).toEqual(expected(renderSections(later)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
