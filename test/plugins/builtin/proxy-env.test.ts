// The programs a job starts (shell, terraform and the git it fetches modules with) are in the
// runner's network: behind a forward proxy they need its way out too. They get the runner's
// proxy variables (both spellings, NO_PROXY too), which the job's own `env` overrides; nothing
// else of the runner's environment.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import shellPlugin from "../../../src/plugins/builtin/shell/plugin.ts";
import terraformPlugin from "../../../src/plugins/builtin/terraform/plugin.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";
import { setEnv } from "../../helpers/env.ts";

const fakes = new URL("../../integrations/fakes", import.meta.url).pathname;
// Nothing listens there, and NO_PROXY names loopback: a call of this test process that read the
// variables while they are set would still go direct.
const PROXY = "http://edge:proxy-pw-4711@127.0.0.1:9";
const VARIABLES = { https_proxy: PROXY, HTTP_PROXY: "http://127.0.0.1:9", no_proxy: "127.0.0.1,localhost,.corp.example" };
const restores: Array<() => void> = [];
const setProxyEnv = (values: Record<string, string>): void => void restores.push(setEnv({ ...values, EDGE_RUNNER_TEST_UNRELATED: "not-for-jobs" }));
afterEach(() => {
  for (const restore of restores.splice(0).reverse()) restore();
});

test("shell: the command sees the runner's proxy variables, and the job's env overrides one", async () => {
  setProxyEnv(VARIABLES);
  const ctx = createTestContext();
  const printed = 'echo "https=$https_proxy http=$HTTP_PROXY no=$no_proxy unrelated=${EDGE_RUNNER_TEST_UNRELATED:-unset}"';
  expect(await shellPlugin.actions.run?.({ command: ["sh", "-c", printed] }, ctx)).toMatchObject({ exitCode: 0 });
  expect(ctx.lines.map((l) => l.msg)).toEqual([`https=${PROXY} http=http://127.0.0.1:9 no=127.0.0.1,localhost,.corp.example unrelated=unset`]);
  const own = createTestContext();
  await shellPlugin.actions.run?.({ command: ["sh", "-c", 'echo "https=$https_proxy"'], env: { https_proxy: "http://job-proxy:3128" } }, own);
  expect(own.lines.map((l) => l.msg)).toEqual(["https=http://job-proxy:3128"]);
});

test("shell: without proxy variables the command gets none", async () => {
  setProxyEnv({ https_proxy: "", HTTPS_PROXY: "", http_proxy: "", HTTP_PROXY: "", no_proxy: "", NO_PROXY: "" });
  const ctx = createTestContext();
  await shellPlugin.actions.run?.({ command: ["sh", "-c", "env | grep -ci proxy || true"] }, ctx);
  expect(ctx.lines.map((l) => l.msg)).toEqual(["0"]);
});

test("terraform: every terraform command of a run sees the runner's proxy variables", async () => {
  setProxyEnv(VARIABLES);
  const dir = mkdtempSync(path.join(tmpdir(), "tf-proxy-env-"));
  writeFileSync(path.join(dir, "main.tf"), 'resource "null_resource" "r" {}\n');
  const log = path.join(dir, "terraform.log");
  const ctx = createTestContext({ jobId: "tf-proxy" });
  await terraformPlugin.actions.detect?.({ module: { local: dir }, binary: path.join(fakes, "terraform"), env: { FAKE_TERRAFORM_LOG: log } }, ctx);
  const runs = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { argv: string[]; proxyEnv: Record<string, string> });
  expect(runs.map((r) => r.argv[0])).toEqual(["init", "plan"]);
  for (const run of runs) expect(run.proxyEnv).toEqual(VARIABLES);
});
