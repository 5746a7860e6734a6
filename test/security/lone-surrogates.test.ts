// JSON allows "\ud800", a lone UTF-16 surrogate, which has no UTF-8 form: encodeURIComponent
// throws on it (the runner's storage key for a job, a URL path) and a file or a cipher gets U+FFFD
// instead (two ids collide, a secret changes). Ids, names and secret values from a controller or a
// client are refused with one, naming the field; a well-formed pair (an emoji) is still fine.

import { afterEach, expect, test } from "bun:test";
import { parseControllerMessage, parseRunnerMessage } from "../../src/protocol/edge-v1.ts";
import { keySegment } from "../../src/storage/storage-keys.ts";
import { redactor } from "../../src/log/redact.ts";
import { boundOutcome, boundStep } from "../../src/plugins/job-text.ts";
import { makeController, type Harness } from "../reference-controller/helpers.ts";

const offer = (job: Record<string, unknown>) =>
  JSON.stringify({ v: 1, type: "offer", job: { id: "j1", attempt: 1, group: "default", plugin: "echo", action: "default", leaseExpiresAt: 1, submittedAt: 1, ...job } });

test("keySegment() throws on a lone surrogate: why a job id must not carry one to the runner", () => {
  expect(() => keySegment("j\ud800")).toThrow(URIError);
});

test("parseControllerMessage() refuses an offer whose job id, plugin or secret reference holds a lone surrogate, naming the field", () => {
  for (const [field, value] of [["id", "j\ud800"], ["plugin", "echo\udfff"], ["action", "\ud83d"]] as const) {
    const parsed = parseControllerMessage(offer({ [field]: value }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toBe(`Malformed frame: "job.${field}" must be well-formed Unicode (it holds a lone UTF-16 surrogate)`);
  }
  const secrets = parseControllerMessage(offer({ secrets: ["file:/run/secrets/a\ud800"] }));
  expect(secrets.ok).toBe(false);
  const cancel = parseControllerMessage(JSON.stringify({ v: 1, type: "cancel", jobId: "\udc00", attempt: 1, reason: "x" }));
  expect(cancel.ok ? "" : cancel.error.message).toContain('"jobId" must be well-formed Unicode');
  // A surrogate pair is a character like any other.
  expect(parseControllerMessage(offer({ id: "j-\ud83d\ude00" })).ok).toBe(true);
});

test("parseRunnerMessage() refuses a lone surrogate in a job id or an error code, naming the field", () => {
  const accept = parseRunnerMessage(JSON.stringify({ v: 1, type: "accept", jobId: "j\udc00", attempt: 1 }));
  expect(accept.ok ? "" : accept.error.message).toBe('Malformed frame: "jobId" must be well-formed Unicode (it holds a lone UTF-16 surrogate)');
  const reject = parseRunnerMessage(JSON.stringify({ v: 1, type: "reject", jobId: "j1", attempt: 1, error: { code: "x\ud800", message: "m" } }));
  expect(reject.ok ? "" : reject.error.message).toContain('"code" must be well-formed Unicode');
});

test("boundStep() and boundOutcome() make a plugin's step id, name and error code well-formed, so the controller takes the message", () => {
  const stepMessage = (step: unknown) => JSON.stringify({ v: 1, type: "step", jobId: "j1", attempt: 1, seq: 1, step });
  expect(boundStep(redactor, { id: "a\ud800", name: "n\udc00", status: "running" })).toEqual({ id: "a\ufffd", name: "n\ufffd", status: "running" });
  // The cut at 200 characters falls inside a surrogate pair.
  const cut = boundStep(redactor, { id: `${"x".repeat(199)}\ud83d\ude00`, status: "running" });
  expect(parseRunnerMessage(stepMessage(cut)).ok).toBe(true);
  const { error } = boundOutcome(redactor, { status: "failed", error: { code: "e\ud800", message: "m" } });
  expect(error?.code).toBe("e\ufffd");
  const result = JSON.stringify({ v: 1, type: "result", jobId: "j1", attempt: 1, lastSeq: 0, status: "failed", startedAt: 1, finishedAt: 2, error });
  expect(parseRunnerMessage(result).ok).toBe(true);
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.close();
  h = undefined;
});

const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

test("the admin API refuses a submit whose plugin, action or secret reference holds a lone surrogate, naming the field", async () => {
  h = makeController();
  for (const [body, field] of [
    [{ plugin: "echo\ud800" }, '"plugin"'],
    [{ plugin: "echo", action: "\udfffx" }, '"action"'],
    [{ plugin: "echo", secrets: ["file:/run/secrets/a\ud800"] }, '"secrets"'],
    [{ plugin: "echo", secretInputs: { token: "s3cr\ud800t" } }, 'secret input "token"'],
  ] as const) {
    const response = await h.controller.app.request("/api/v1/jobs", { method: "POST", headers: admin, body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toContain(field);
    expect(error.message).toContain("well-formed");
  }
  const ok = await h.controller.app.request("/api/v1/jobs", { method: "POST", headers: admin, body: JSON.stringify({ plugin: "echo", input: { note: "\ud83d\ude00 and a lone \ud800 in an input value is kept as JSON" } }) });
  expect(ok.status).toBe(201);
});

test("the admin API refuses a stored secret value holding a lone surrogate, without repeating it", async () => {
  h = makeController();
  const response = await h.controller.app.request("/api/v1/secrets/token", { method: "PUT", headers: admin, body: JSON.stringify({ value: "s3cr\ud800t" }) });
  expect(response.status).toBe(400);
  const { error } = (await response.json()) as { error: { message: string } };
  expect(error.message).toBe('Cannot store a secret: "value" must be well-formed Unicode (it holds a lone UTF-16 surrogate)');
});
