// The local status endpoint as a Hono app: the HTML page for people, /healthz, /readyz, /status
// and /metrics for machines. Every answer comes from one snapshot taken per request; binding
// (loopback by default) is the caller's business, the Host header check (DNS rebinding) is ours.

import type { Hono, MiddlewareHandler } from "hono";
import type { BlankEnv, BlankSchema } from "hono/types";
import { HonoBase } from "hono/hono-base";
import { LinearRouter } from "hono/router/linear-router";
import { hostGuard } from "../platform/host-guard.ts";
import { serializeError } from "../errors.ts";
import { redactor as processRedactor, type Redactor } from "../log/redact.ts";
import { statusDocument } from "./document.ts";
import { checkHealth } from "./health.ts";
import type { RunnerMetrics } from "./metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import { checkReadiness } from "./readiness.ts";
import type { RunnerSnapshot } from "./snapshot.ts";
import type { StatusSection } from "./secrets-section.ts";

export interface StatusAppOptions {
  /** Builds the current snapshot; called once per request. */
  snapshot: () => RunnerSnapshot;
  metrics: RunnerMetrics;
  /** Masks registered secret values in every text answer; the process redactor by default. */
  redactor?: Redactor;
  /** Host names answered besides loopback names and IP addresses (bind address, allowedHosts). */
  allowedHosts?: readonly string[];
  /** Parts contributed by other parts of the runner (secret backends, …): a /status key, a page section, /metrics lines. */
  sections?: readonly StatusSection[];
}

/**
 * Hono without its default router: `hono`'s Hono class imports the SmartRouter, RegExpRouter and
 * TrieRouter (a dozen modules a runner's start-up loaded only to replace them).
 */
class StatusHono extends HonoBase<BlankEnv, BlankSchema, "/"> {
  constructor() {
    super();
    // Five routes: the linear router matches them without compiling hono's default RegExpRouter
    // on the first request, which cost ~1.7 ms of CPU while a starting runner's /readyz is polled.
    this.router = new LinearRouter();
  }
}

export function createStatusApp(options: StatusAppOptions): Hono {
  const redactor = options.redactor ?? processRedactor;
  const sections = options.sections ?? [];
  const app = new StatusHono();

  app.use("*", securityHeaders);
  app.use("*", hostGuard({ hosts: options.allowedHosts ?? [] }));

  // The HTML page (its renderer and the hashes in its CSP) is loaded at its first request: no
  // part of a runner's start-up, which /readyz and /healthz are (docs/performance.md, start-up).
  app.get("/", async (c) => {
    const { PAGE_CSP, renderPage } = await import("./page.ts");
    c.header("Content-Security-Policy", PAGE_CSP);
    // The document is redacted field by field; redacting the whole HTML could mangle the script.
    const snapshot = options.snapshot();
    const extra = sections.map((s) => `<section id="s-${s.key}" class="panel">${s.html(redactor, snapshot.now)}</section>`).join("\n");
    return c.html(renderPage(statusDocument(snapshot, redactor), extra));
  });

  app.get("/healthz", (c) => {
    const health = checkHealth(options.snapshot());
    const loops = health.loops.map((l) => ({ name: l.name, lastTickSecondsAgo: l.lastTickSecondsAgo }));
    if (health.ok) return c.json({ status: "ok", loops });
    return c.json({ status: "unhealthy", reason: health.reason, loops }, 503);
  });

  app.get("/readyz", (c) => {
    const readiness = checkReadiness(options.snapshot());
    if (readiness.ready) return c.json({ ready: true });
    return c.json({ ready: false, kind: readiness.kind, reason: redactor.text(readiness.reason) }, 503);
  });

  app.get("/status", (c) => {
    const snapshot = options.snapshot();
    return c.json({ ...statusDocument(snapshot, redactor), ...Object.fromEntries(sections.map((s) => [s.key, s.json(redactor, snapshot.now)])) });
  });

  app.get("/metrics", (c) => {
    const text = options.metrics.expose(options.snapshot()) + sections.map((s) => s.metrics()).join("");
    // Label values come from jobs (plugin names, codes): masked like every other answer.
    return c.body(redactor.text(text), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });

  app.notFound((c) => {
    const path = c.req.path.length > 200 ? c.req.path.slice(0, 200) + "…" : c.req.path;
    const message = `No status endpoint at "${path}" for ${c.req.method}`;
    return c.json({ error: { code: "not_found", message: redactor.text(message) } }, 404);
  });

  // A snapshot that throws is a runner bug: answer 500 (so /healthz fails closed), never crash.
  app.onError((error, c) => {
    const { code, message } = serializeError(error);
    return c.json({ error: { code, message: redactor.text(`Cannot answer "${c.req.path}": ${message}`) } }, 500);
  });

  return app;
}

const securityHeaders: MiddlewareHandler = async function securityHeaders(c, next) {
  await next();
  c.header("Cache-Control", "no-store");
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Frame-Options", "DENY");
  c.header("Cross-Origin-Resource-Policy", "same-origin");
  if (!c.res.headers.has("Content-Security-Policy")) {
    c.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }
};
