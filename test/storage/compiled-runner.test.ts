// Job storage and artifacts through the compiled executable, against s3rver: a signed plugin
// keeps an artifact that `job artifacts` lists and `job artifact` returns byte for byte; then two
// runners share one bucket, runner r1 is SIGKILLed mid-job and restarted, and after its sweep
// grace the objects its dead process left are gone while live runner r2's objects stay.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { FLAVOURS, STATUS_URL, assertBuilt, runToEnd, start, waitForHttp, waitForOutput, type Flavour, type Proc } from "../helpers/processes.ts";
import { launchController } from "../helpers/binary-bed.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";

const root = new URL("../..", import.meta.url).pathname;
const binary: Flavour = process.env.EDGE_RUNNER_TEST_BINARY === undefined ? (FLAVOURS[0] as Flavour) : { name: "test binary", command: [process.env.EDGE_RUNNER_TEST_BINARY] };
let base: string;
let s3: S3Server;
let client: S3Client;
const procs: Proc[] = [];

beforeAll(async () => {
  if (process.env.EDGE_RUNNER_TEST_BINARY === undefined) assertBuilt();
  base = mkdtempSync(path.join(tmpdir(), "edge-runner-e2e-storage-"));
  s3 = await startS3rver();
  client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
});
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  client.destroy();
  await s3.stop();
  rmSync(base, { recursive: true, force: true });
});

const cli = async (args: string[]): Promise<string> => {
  const { code, output } = await runToEnd(binary, args);
  if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${output}`);
  return output;
};

/** stdout only (bytes), for `job artifact`. */
function stdoutOf(args: string[]): Promise<{ code: number | null; stdout: Buffer }> {
  const [cmd, ...pre] = binary.command as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(cmd, [...pre, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.on("exit", (code) => resolve({ code, stdout: Buffer.concat(chunks) }));
  });
}

async function keys(prefix: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key ?? "").sort();
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

const PLUGIN = `import { definePlugin } from ${JSON.stringify(path.join(root, "src/plugins/sdk.ts"))};
export default definePlugin({
  name: "stash",
  version: "1.0.0",
  actions: {
    keep: async (input, ctx) => {
      const plan = new Uint8Array(3 * 1024 * 1024 + 11);
      for (let i = 0; i < plan.length; i++) plan[i] = (i * 31) % 256;
      return { plan: await ctx.artifacts.put("plan.bin", plan, { contentType: "application/octet-stream" }) };
    },
    hold: async (input, ctx) => {
      await ctx.storage.put("work/state.json", JSON.stringify({ step: 1 }), { contentType: "application/json" });
      await ctx.storage.put("work/blob", new Uint8Array(2 * 1024 * 1024));
      ctx.log.info("stored");
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
    },
  },
});
`;

async function scenario(runnerFlavour: Flavour, root: string): Promise<void> {
  const dir = mkdtempSync(path.join(base, "scenario-"));
  const dataDir = path.join(dir, "controller");
  const { proc: controller, url, common } = await launchController(binary, procs, dataDir, { extra: ["--lease-ttl", "60s"] });

  // A signed plugin bundle, trusted by both runners.
  const keysDir = path.join(dir, "keys");
  await cli(["keygen", "--signing", "--out-dir", keysDir, "--kid", "k1"]);
  const trusted = path.join(dir, "trusted");
  mkdirSync(trusted);
  copyFileSync(path.join(keysDir, "signing-k1.pub.jwk"), path.join(trusted, "k1.jwk"));
  const src = path.join(dir, "stash.ts");
  writeFileSync(src, PLUGIN);
  const out = path.join(dir, "build");
  await cli(["plugin", "build", src, "--out", out]);
  await cli(["plugin", "sign", path.join(out, "stash-1.0.0.manifest.json"), "--key", path.join(keysDir, "signing-k1.key.jwk")]);
  await cli(["plugin", "publish", path.join(out, "stash-1.0.0.mjs"), ...common]);

  const secretFile = path.join(dir, "s3-secret");
  writeFileSync(secretFile, S3RVER_CREDENTIALS.secretAccessKey, { mode: 0o600 });
  const runnerArgs = (id: string) => [
    "run", "--runner-id", id, "--group", id, "--api-key-file", path.join(dir, `${id}.key`), "--controller-url", url,
    "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(dir, id), "--trusted-keys", trusted,
    "--storage-backend", "s3", "--s3-endpoint", s3.endpoint, "--s3-bucket", s3.bucket, "--s3-force-path-style",
    "--s3-access-key-id", S3RVER_CREDENTIALS.accessKeyId, "--s3-secret-access-key-file", secretFile,
    "--storage-sweep-grace", "3s", "--storage-sweep-interval", "500ms", "--drain-timeout", "1s", "--s3-prefix", root,
  ];
  const startRunner = async (id: string): Promise<{ proc: Proc; statusUrl: string }> => {
    const proc = start(runnerFlavour, runnerArgs(id));
    procs.push(proc);
    const statusUrl = await waitForOutput(proc, STATUS_URL);
    await waitForHttp(`${statusUrl}/readyz`);
    return { proc, statusUrl };
  };
  for (const id of ["r1", "r2"]) await cli(["runner", "register", id, "--group", id, "--api-key-out", path.join(dir, `${id}.key`), ...common]);
  let r1 = await startRunner("r1");
  const r2 = await startRunner("r2");

  // An artifact: kept by the controller, named with its digest in the result, returned byte for byte.
  const kept = JSON.parse((await runToEnd(binary, ["job", "submit", "stash@1.0.0", "--action", "keep", "--group", "r1", "--input", "{}", "--wait", "--json", ...common])).output) as { id: string; status: string; artifacts?: Array<{ name: string; size: number; sha256: string }> };
  const plan = new Uint8Array(3 * 1024 * 1024 + 11);
  for (let i = 0; i < plan.length; i++) plan[i] = (i * 31) % 256;
  const sha256 = createHash("sha256").update(plan).digest("hex");
  expect(kept).toMatchObject({ status: "succeeded", artifacts: [{ name: "plan.bin", size: plan.length, sha256 }] });
  expect(await cli(["job", "artifacts", kept.id, ...common])).toContain(sha256);
  const fetched = await stdoutOf(["job", "artifact", kept.id, "plan.bin", ...common]);
  expect(fetched.code).toBe(0);
  expect(Buffer.compare(fetched.stdout, Buffer.from(plan))).toBe(0);
  // The job's intermediate storage is already empty.
  expect(await keys(`${root}/r1/`)).toEqual([]);

  // Both runners hold a job with objects in the shared bucket.
  const held = async (group: string) => JSON.parse(await cli(["job", "submit", "stash@1.0.0", "--action", "hold", "--group", group, "--input", "{}", "--json", ...common])) as { id: string };
  const j1 = await held("r1");
  const j2 = await held("r2");
  const r1Keys = await until("r1's objects", async () => { const k = await keys(`${root}/r1/${j1.id}/1/`); return k.length === 2 ? k : undefined; });
  const r2Keys = await until("r2's objects", async () => { const k = await keys(`${root}/r2/${j2.id}/1/`); return k.length === 2 ? k : undefined; });

  // r1 dies mid-job: nothing runs its cleanup.
  r1.proc.kill("SIGKILL");
  await r1.proc.exited;
  expect(await keys(`${root}/r1/${j1.id}/1/`)).toEqual(r1Keys);

  // Restarted, r1 finds the orphan, waits out the grace, then deletes it; r2's objects stay.
  r1 = await startRunner("r1");
  await until("the orphan to be swept", async () => ((await keys(`${root}/r1/${j1.id}/1/`)).length === 0 ? true : undefined), 30_000);
  expect(await keys(`${root}/r2/${j2.id}/1/`)).toEqual(r2Keys);
  // The sweep's counters are updated once its deletions are done.
  await until("the sweep to be counted", async () => (/edge_runner_storage_swept_attempts_total\{backend="s3"\} [1-9]/.test(await (await fetch(`${r1.statusUrl}/metrics`)).text()) ? true : undefined));
  const status = (await (await fetch(`${r2.statusUrl}/status`)).json()) as { storage?: { backend: string; objectsAlive: number; location: string } };
  expect(status.storage).toMatchObject({ backend: "s3", objectsAlive: 2, location: `s3://${s3.bucket}/${root}/` });

  // r2 drains (its job is interrupted after 1 s) and deletes the job's objects on the way out.
  r1.proc.kill("SIGTERM");
  r2.proc.kill("SIGTERM");
  expect(await r2.proc.exited).toBe(0);
  expect(await keys(`${root}/r2/`)).toEqual([]);
  expect(await r1.proc.exited).toBe(0);
  controller.kill("SIGTERM");
  expect(await controller.exited).toBe(0);
}

test("compiled binary: artifacts through the controller, and the crash sweep of a SIGKILLed runner leaves a live runner's objects", () => scenario(binary, "edge-runner"), 180_000);

// The same runners as the esbuild bundle under Node: the S3 SDK works there too (Deno runs the
// same bundle in cross-runtime.test.ts).
test.skipIf(spawnSync("node", ["--version"]).status !== 0)("bundle on Node: the same artifacts and crash sweep", () => scenario(FLAVOURS[1] as Flavour, "on-node"), 180_000);
