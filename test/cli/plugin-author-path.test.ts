// Issue 14 item 3, end to end as an author without a source checkout: an empty temp dir, only the
// compiled executable on PATH, and the README's path from `plugin init` to a signed job that
// succeeds on a runner (a `dev` controller and runner).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { assertBuilt, waitForOutput, type Proc } from "../helpers/processes.ts";

const root = new URL("../..", import.meta.url).pathname;
let dir: string;
let bin: string;
let dev: Proc | undefined;

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "edge-runner-author-"));
  bin = path.join(dir, "bin");
  mkdirSync(bin);
  copyFileSync(path.join(root, "dist/edge-runner"), path.join(bin, "edge-runner"));
});
afterAll(async () => {
  dev?.kill("SIGKILL");
  await dev?.exited;
  rmSync(dir, { recursive: true, force: true });
});

/** `edge-runner ARGS` as a shell would run it: found on PATH (nothing else is), from `cwd`. */
function edgeRunner(args: string[], cwd: string, background = false): Proc {
  const child = spawn("edge-runner", args, { cwd, env: { PATH: bin, HOME: dir, EDGE_RUNNER_LOG_FORMAT: "json" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  void background;
  return { child, output: () => out, exited, kill: (signal = "SIGTERM") => child.kill(signal) };
}

async function ok(args: string[], cwd: string): Promise<string> {
  const proc = edgeRunner(args, cwd);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${proc.output()}`);
  return proc.output();
}

test("plugin init → test → build → sign → trust → publish → a signed job succeeds on a runner, with only the binary on PATH", async () => {
  const work = path.join(dir, "work");
  mkdirSync(work);
  await ok(["plugin", "init", "hello"], work);
  const project = path.join(work, "hello");
  for (const file of ["README.md", "src/index.ts", "test/index.test.ts", "tsconfig.json", ".gitignore", "sdk/edge-runner-plugin.js", "sdk/edge-runner-plugin.d.ts"]) {
    expect(existsSync(path.join(project, file))).toBe(true);
  }
  expect(readFileSync(path.join(project, ".gitignore"), "utf8")).toContain("*.key.jwk");

  expect(await ok(["plugin", "test"], project)).toContain("1 pass");
  await ok(["plugin", "build", "src/index.ts"], project);
  expect(await ok(["plugin", "run", "dist/hello-0.1.0.mjs", "--action", "greet", "--input", "name=Ada"], project)).toContain("Hello, Ada!");
  await ok(["keygen", "--signing", "--out-dir", "keys", "--kid", "dev"], project);
  await ok(["plugin", "sign", "dist/hello-0.1.0.manifest.json", "--key", "keys/signing-dev.key.jwk"], project);

  // The README's step 2, with ports chosen by the system so tests can run side by side.
  const edge = path.join(work, "edge");
  dev = edgeRunner(["dev", "--data-dir", edge, "--listen-port", "0", "--status-port", "0"], project);
  const controllerUrl = await waitForOutput(dev, /controller\s+(http:\/\/\S+)/, 30_000);
  await waitForOutput(dev, /demo job\s+\S+: succeeded/, 30_000);
  const common = ["--data-dir", edge, "--controller-url", controllerUrl];

  // Before the runner trusts the key, the job is refused: signing alone is not enough.
  await ok(["plugin", "publish", "dist/hello-0.1.0.mjs", ...common], project);
  const untrusted = edgeRunner(["job", "submit", "hello@0.1.0", "--action", "greet", "--input", '{"name":"Ada"}', "--wait", "--json", ...common], project);
  expect(await untrusted.exited).toBe(1);
  expect(untrusted.output()).toContain("bundle_key_unknown");

  mkdirSync(path.join(edge, "trusted-keys"), { recursive: true });
  copyFileSync(path.join(project, "keys/signing-dev.pub.jwk"), path.join(edge, "trusted-keys/signing-dev.pub.jwk"));
  const submitted = await ok(["job", "submit", "hello@0.1.0", "--action", "greet", "--input", '{"name":"Ada"}', "--wait", "--json", ...common], project);
  const job = JSON.parse(submitted.trim().split("\n").find((l) => l.startsWith("{\"id\"")) ?? "{}") as { status?: string; output?: unknown };
  expect(job).toMatchObject({ status: "succeeded", output: { greeting: "Hello, Ada!", greeted: "Ada" } });
}, 120_000);
