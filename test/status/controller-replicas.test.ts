// The status page and /status with a list of controller URLs: the current one (no credentials),
// its position, and the failovers so far; nothing extra for a single URL.

import { expect, test } from "bun:test";
import { statusDocument } from "../../src/status/document.ts";
import { renderPage } from "../../src/status/page.ts";
import { Redactor } from "../../src/log/redact.ts";
import { NOW, snapshotFixture } from "./fixtures.ts";

const connected = { state: "connected" as const, since: NOW - 1000, transport: "websocket" as const, reconnects: 1, protocolErrors: 0 };

test("statusDocument() shows which controller of the list is current, without its credentials", () => {
  const doc = statusDocument(snapshotFixture({
    controllerUrl: "https://user:hunter2@b.example.com/?token=s3cret",
    connection: { ...connected, controller: { url: "https://b.example.com", index: 1, count: 3, failovers: 1 } },
  }), new Redactor());
  expect(doc.controllerUrl).toBe("https://b.example.com");
  expect(doc.controllers).toEqual({ index: 1, count: 3, failovers: 1 });
  const html = renderPage(doc);
  expect(html).toContain("controller 2 of 3 · 1 failover");
  expect(html).not.toContain("hunter2");
  expect(html).not.toContain("s3cret");
});

test("statusDocument() says nothing about replicas for a single controller URL", () => {
  const doc = statusDocument(snapshotFixture({ connection: { ...connected, controller: { url: "https://controller.example.com", index: 0, count: 1, failovers: 0 } } }), new Redactor());
  expect(doc.controllers).toBeUndefined();
  expect(renderPage(doc)).not.toContain(" of 1");
});
