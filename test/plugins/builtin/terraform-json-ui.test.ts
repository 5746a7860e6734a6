// The terraform plugin's reading of `-json` lines: a line past the general 16 KiB line cut (a
// diagnostic with a long detail) is read whole and its message cut after parsing, so the error and
// the resource's step survive; a malformed UI line never throws (it would break the worker
// mid-apply) but becomes a log line. The plugin runs directly (createTestContext) with the fake
// terraform of test/integrations/fakes/.

import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import terraform from "../../../src/plugins/builtin/terraform/plugin.ts";
import { cut, parseUiLine, UI_LINE_MAX, UI_MESSAGE_MAX } from "../../../src/plugins/builtin/terraform/json-ui.ts";
import { LINE_MAX, LineStream, OutputBudget } from "../../../src/plugins/processes/line-stream.ts";
import { EdgeError } from "../../../src/errors.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";
import { RedactionScope } from "../../../src/secrets/redaction/redaction-scope.ts";
import { boundOutcome, boundStep } from "../../../src/plugins/job-text.ts";
import type { StepUpdate } from "../../../src/protocol/edge-v1.ts";

const fake = new URL("../../integrations/fakes/terraform", import.meta.url).pathname;
function moduleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tf-json-ui-"));
  writeFileSync(join(dir, "main.tf"), 'resource "null_resource" "r" {}\n');
  return dir;
}
const input = (variables: Record<string, unknown>) => ({ module: { local: moduleDir() }, variables, binary: fake });

test("terraform apply: a 100 KB error diagnostic and a 100 KB apply_errored line reach the job error and the resource's step", async () => {
  const ctx = createTestContext({ jobId: "tf-long-error" });
  const error = await (terraform.actions.apply?.(input({ resources: 1, fail_apply: true, error_bytes: 100_000 }), ctx) as Promise<unknown>).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  expect((error as EdgeError).code).toBe("command_failed");
  // The diagnostic's summary, not only "exited with code 1".
  expect((error as EdgeError).message).toMatch(/^terraform apply exited with code 1: \(\d+ characters, cut\) local-exec provisioner error: Error running command 'false'/);
  expect(ctx.steps.filter((s) => s.id === "resource:null_resource.r0").at(-1)).toMatchObject({ status: "failed" });
  // Messages are cut after parsing, saying how long they were; no raw pieces of JSON are logged.
  const errors = ctx.lines.filter((l) => l.level === "error");
  expect(errors.map((l) => l.msg.length).every((n) => n <= UI_MESSAGE_MAX + 40)).toBe(true);
  expect(errors.some((l) => l.msg.startsWith(`(${"local-exec provisioner error: ".length + 100_000} characters, cut) `))).toBe(true);
  expect(ctx.lines.some((l) => l.msg.startsWith('{"@level"') || l.msg.startsWith("xxxx"))).toBe(false);
}, 30_000);

test("terraform plan: malformed UI lines are logged, never thrown; the plan goes on", async () => {
  const ctx = createTestContext({ jobId: "tf-odd-lines" });
  const ui_lines = [
    '{"@level":"toString","@message":"provider says hi","type":"log"}',
    '{"@level":"__proto__","@message":"proto level"}',
    '{"@level":{"toString":1},"@message":{"toString":1}}',
    '{"type":"diagnostic","diagnostic":{"summary":{"toString":1},"detail":{"toString":1}}}',
    '{"type":"apply_start","hook":{"resource":{"addr":"a"},"action":{"toString":1}}}',
    '{"type":"change_summary","changes":{"add":{"toString":1}}}',
    "[1,2]",
  ];
  const output = await terraform.actions.plan?.(input({ resources: 1, ui_lines }), ctx);
  expect(output).toMatchObject({ changesDetected: true, changes: { add: 1, change: 0, remove: 0 } });
  expect(ctx.lines).toContainEqual(expect.objectContaining({ level: "info", msg: "provider says hi" }));
  expect(ctx.lines).toContainEqual(expect.objectContaining({ level: "info", msg: "proto level" }));
}, 30_000);

test("parseUiLine() takes only string fields and known levels; nothing it is given throws", () => {
  for (const line of ['{"@level":"toString"}', '{"@level":"constructor","@message":"m"}', '{"@level":{"toString":1}}', '{"type":"diagnostic","diagnostic":{"summary":{"toString":1}}}', '{"type":"apply_start","hook":{"resource":{"addr":{"toString":1}},"action":{"toString":1}}}', '{"type":"change_summary","changes":{"add":{"toString":1}}}', '{"type":"diagnostic","diagnostic":null}', '{"hook":"x","type":"apply_complete"}', "null", "7", '"s"', "[]"]) {
    const event = parseUiLine(line);
    expect(["debug", "info", "warn", "error"]).toContain(event.log?.level as string);
    expect(typeof event.log?.msg).toBe("string");
  }
  expect(parseUiLine('{"type":"change_summary","changes":{"add":{"toString":1},"change":2}}').changes).toEqual({ add: 0, change: 2, remove: 0 });
});

test("LineStream keeps the general 16 KiB cut of an unended line, and reads lines up to its own lineMax whole however the pipe chunks them", () => {
  const line = `{"m":"${"y".repeat(100_000)}"}`;
  const feed = (stream: LineStream) => {
    const bytes = new TextEncoder().encode(`${line}\n`);
    for (let i = 0; i < bytes.length; i += 65_536) stream.write(bytes.subarray(i, i + 65_536));
    stream.end();
  };
  const general: string[] = [];
  feed(new LineStream((l) => general.push(l), new OutputBudget(1e8, () => undefined)));
  // The general stream holds at most LINE_MAX of an unended line: the 64 KiB chunk leaves in pieces.
  expect(general.length).toBeGreaterThan(1);
  expect(general[0]?.length).toBe(LINE_MAX);
  const ui: string[] = [];
  feed(new LineStream((l) => ui.push(l), new OutputBudget(1e8, () => undefined), UI_LINE_MAX));
  expect(ui).toEqual([line]);
});

test("a secret the UI_MESSAGE_MAX cut splits is masked: the cut part ends the line, the note about the cut comes first (after it, the secret's first part showed)", () => {
  const scope = new RedactionScope();
  const secret = "s3cr3t-VALUE-0123456789";
  scope.add(secret);
  const message = `${"m".repeat(UI_MESSAGE_MAX - 10)}${secret} and more`;
  const logged = scope.line(cut(message));
  expect(logged).not.toContain("s3cr3t-VAL");
  expect(logged).toStartWith(`(${message.length} characters, cut) `);
});

test("a step's or an error's message cut to size mid-secret has the secret's first part masked as it leaves the runner (job-text.ts)", () => {
  const scope = new RedactionScope();
  const secret = "s3cr3t-VALUE-0123456789";
  scope.add(secret);
  const message = `${"e".repeat(490)}${secret}`.slice(0, 500);
  expect(boundOutcome(scope, { status: "failed", error: { code: "command_failed", message } }).error!.message).not.toContain("s3cr3t-VAL");
  expect((boundStep(scope, { id: "s", status: "failed", message }) as StepUpdate).message).not.toContain("s3cr3t-VAL");
  expect(boundOutcome(scope, { status: "failed", error: { code: "command_failed", message: "plain text, nothing secret" } }).error!.message).toBe("plain text, nothing secret");
});
