// Plugins end to end through the built executable, as an author and an operator use them:
// keygen --signing, plugin build, sign, publish to a controller process, run on a runner process
// that trusts the key; rotate the signing key, publish v2 (run in process isolation), run again;
// a tampered bundle is refused.

import { expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { STATUS_URL, runToEnd, start, waitForHttp, waitForOutput } from "../helpers/processes.ts";
import { binaryBed, TEST_BINARY, launchController } from "../helpers/binary-bed.ts";

const root = new URL("../..", import.meta.url).pathname;
// EDGE_RUNNER_TEST_BINARY runs this file against another build (e.g. one in /tmp while dist/ is in use).
const binary = TEST_BINARY;
const bed = binaryBed("edge-runner-e2e-plugins-");
const { procs } = bed;

const cli = async (args: string[]): Promise<string> => {
  const { code, output } = await runToEnd(binary, args);
  if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${output}`);
  return output;
};

function pluginSource(version: string, greeting: string): string {
  return `import { definePlugin } from ${JSON.stringify(path.join(root, "src/plugins/sdk.ts"))};
export default definePlugin({
  name: "hello",
  version: ${JSON.stringify(version)},
  actions: {
    greet: async (input, ctx) => {
      ctx.log.info("greeting " + input.name);
      ctx.outputs.set("version", ${JSON.stringify(version)});
      await ctx.storage.put("note", "kept for the job");
      return { greeting: ${JSON.stringify(greeting)} + ", " + input.name + "!", stored: await ctx.storage.getText("note") };
    },
  },
});
`;
}

async function buildSignPublish(version: string, greeting: string, key: string, url: string, tokenFile: string): Promise<void> {
  const src = path.join(bed.dir, `hello-${version}.ts`);
  writeFileSync(src, pluginSource(version, greeting));
  const out = path.join(bed.dir, "build");
  await cli(["plugin", "build", src, "--out", out]);
  await cli(["plugin", "sign", path.join(out, `hello-${version}.manifest.json`), "--key", key]);
  await cli(["plugin", "publish", path.join(out, `hello-${version}.mjs`), "--controller-url", url, "--admin-token-file", tokenFile]);
}

/** Child processes of `pid` started as `__plugin-host` (Linux /proc). */
function pluginHostChildren(pid: number): number {
  let count = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean)) {
      if (readFileSync(`/proc/${child}/cmdline`, "utf8").includes("__plugin-host")) count++;
    }
  }
  return count;
}

interface JobJson { id: string; status: string; output?: Record<string, unknown>; error?: { code: string; message: string } }

test("plugin build, sign, publish, run on a runner; rotate the key, publish v2, run again; a tampered bundle is refused", async () => {
  const dataDir = path.join(bed.dir, "controller");
  const { proc: controller, url, common } = await launchController(binary, procs, dataDir);
  const tokenFile = path.join(dataDir, "controller", "admin-token");
  // `job submit --wait` exits 1 for a failed job; its JSON is what the test looks at.
  const submit = async (plugin: string): Promise<JobJson> =>
    JSON.parse((await runToEnd(binary, ["job", "submit", plugin, "--action", "greet", "--input", '{"name":"Ada"}', "--wait", "--json", ...common])).output) as JobJson;

  // The author's key A; the runner trusts it.
  const keys = path.join(bed.dir, "keys");
  await cli(["keygen", "--signing", "--out-dir", keys, "--kid", "key-a"]);
  const trusted = path.join(bed.dir, "trusted");
  mkdirSync(trusted);
  copyFileSync(path.join(keys, "signing-key-a.pub.jwk"), path.join(trusted, "key-a.jwk"));
  await buildSignPublish("1.0.0", "Hello", path.join(keys, "signing-key-a.key.jwk"), url, tokenFile);

  const keyFile = path.join(dataDir, "r1.key");
  await cli(["runner", "register", "r1", "--api-key-out", keyFile, ...common]);
  const runner = start(binary, [
    "run", "--runner-id", "r1", "--api-key-file", keyFile, "--controller-url", url, "--status-port", "0",
    "--start-jitter", "0", "--data-dir", path.join(bed.dir, "runner"), "--trusted-keys", trusted,
    // v2 runs in process isolation: a child `edge-runner __plugin-host` of the executable.
    "--plugin-policy", '{"hello@2.0.0": {"isolation": "process", "memoryCeilingMb": 512}}',
  ]);
  procs.push(runner);
  const statusUrl = await waitForOutput(runner, STATUS_URL);
  await waitForHttp(`${statusUrl}/readyz`);

  const v1 = await submit("hello@1.0.0");
  expect(v1.error).toBeUndefined();
  expect(v1).toMatchObject({ status: "succeeded", output: { greeting: "Hello, Ada!", stored: "kept for the job", version: "1.0.0" } });

  // Rotation: key B is trusted, key A removed; v2 is signed by B.
  await cli(["keygen", "--signing", "--out-dir", keys, "--kid", "key-b"]);
  copyFileSync(path.join(keys, "signing-key-b.pub.jwk"), path.join(trusted, "key-b.jwk"));
  rmSync(path.join(trusted, "key-a.jwk"));
  await buildSignPublish("2.0.0", "Bonjour", path.join(keys, "signing-key-b.key.jwk"), url, tokenFile);
  expect(await submit("hello@2.0.0")).toMatchObject({ status: "succeeded", output: { greeting: "Bonjour, Ada!", version: "2.0.0" } });
  expect(pluginHostChildren(runner.child.pid ?? 0)).toBe(1);
  // Anything signed only by the removed key is refused, even from the cache.
  expect(await submit("hello@1.0.0")).toMatchObject({ status: "failed", error: { code: "bundle_key_unknown" } });

  // A bundle altered on the controller after publishing: one byte flipped, same size.
  await buildSignPublish("3.0.0", "Hallo", path.join(keys, "signing-key-b.key.jwk"), url, tokenFile);
  const stored = path.join(dataDir, "controller", "plugins", "hello", "3.0.0", "bundle.mjs");
  const bytes = readFileSync(stored);
  bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 0x20;
  writeFileSync(stored, bytes);
  const tampered = await submit("hello@3.0.0");
  expect(tampered).toMatchObject({ status: "failed", error: { code: "bundle_digest_mismatch" } });
  expect(tampered.error?.message).toStartWith('Cannot verify bundle "hello@3.0.0"');

  const metrics = await (await fetch(`${statusUrl}/metrics`)).text();
  expect(metrics).toContain('edge_runner_plugin_bundle_refusals_total{code="bundle_digest_mismatch"} 1');
  expect(metrics).toContain('edge_runner_plugin_bundle_refusals_total{code="bundle_key_unknown"} 1');
  const status = (await (await fetch(`${statusUrl}/status`)).json()) as { recent: Array<{ plugin: string; errorCode?: string }>; workers: Array<{ plugin: string; jobsServed: number }> };
  expect(status.recent.find((r) => r.plugin === "hello@3.0.0")?.errorCode).toBe("bundle_digest_mismatch");
  expect(status.workers.map((w) => w.plugin).sort()).toEqual(["hello@1.0.0", "hello@2.0.0"]);

  runner.kill("SIGTERM");
  expect(await runner.exited).toBe(0);
  controller.kill("SIGTERM");
  expect(await controller.exited).toBe(0);
}, 120_000);
