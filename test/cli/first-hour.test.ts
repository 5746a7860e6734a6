// Issue 14 through the compiled binary, as a new user meets it: usage mistakes exit 64 naming the
// flag with a suggestion, a port in use names its flag and stops every part, a data directory in
// use says so without a stack, keygen warns about a private key git would pick up, and the job
// commands' small words.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import * as path from "node:path";
import { CONTROLLER_URL, FLAVOURS, runToEnd, start, waitForOutput, type Flavour } from "../helpers/processes.ts";
import { binaryBed } from "../helpers/binary-bed.ts";

const binary = FLAVOURS[0] as Flavour;
const bed = binaryBed("edge-runner-first-hour-");
const { procs } = bed;

/** Holds a loopback port so the product finds it in use. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { port: typeof address === "object" && address !== null ? address.port : 0, server };
}

const noStack = (output: string) => expect(output).not.toMatch(/^\s+at /m);

describe("usage errors (issue 14 item 5)", () => {
  test("an unknown flag exits 64, names the flag and suggests the nearest one", async () => {
    const { code, output } = await runToEnd(binary, ["run", "--concurreny", "2"]);
    expect(code).toBe(64);
    expect(output).toContain('Unknown option "--concurreny" (did you mean --concurrency?)');
    expect(output).toContain('edge-runner run --help');
    noStack(output);
  });

  test("a command's own flag is suggested too, and a missing value is a usage error", async () => {
    const typo = await runToEnd(binary, ["job", "submit", "echo", "--wiat", "--data-dir", bed.dir]);
    expect(typo.code).toBe(64);
    expect(typo.output).toContain("did you mean --wait?");
    const missing = await runToEnd(binary, ["job", "list", "--group"]);
    expect(missing.code).toBe(64);
    expect(missing.output).toContain('Option "--group" needs a value');
    const plugin = await runToEnd(binary, ["plugin", "sign", "m.json", "--kye", "k.jwk"]);
    expect(plugin.code).toBe(64);
    expect(plugin.output).toContain('Unknown option "--kye" (did you mean --key?)');
  });

  test("bad --input JSON is a usage error naming --input", async () => {
    const { code, output } = await runToEnd(binary, ["job", "submit", "echo", "--input", "{bad", "--admin-token", "t"]);
    expect(code).toBe(64);
    expect(output).toContain("Cannot parse the job input of --input as JSON");
    expect(output).not.toContain("configuration error");
  });

  test("an unknown command suggests the nearest one", async () => {
    const { code, output } = await runToEnd(binary, ["contoller"]);
    expect(code).toBe(64);
    expect(output).toContain('Unknown command "contoller" (did you mean "controller"?)');
  });
});

describe("start-up failures (issue 14 items 1 and 5)", () => {
  test("dev with the status port in use stops its controller and exits 69 naming --status-port", async () => {
    const { port, server } = await occupiedPort();
    try {
      const dev = start(binary, ["dev", "--data-dir", path.join(bed.dir, "dev-busy"), "--listen-port", "0", "--status-port", String(port)]);
      procs.push(dev);
      const code = await Promise.race([dev.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 20_000))]);
      expect(code).toBe(69);
      expect(dev.output()).toContain(`Cannot listen on 127.0.0.1:${port}: the address is in use (choose another port with --status-port)`);
      noStack(dev.output());
    } finally {
      server.close();
    }
  });

  test("a controller whose port is in use exits 69 naming --listen-port", async () => {
    const { port, server } = await occupiedPort();
    try {
      const { code, output } = await runToEnd(binary, ["controller", "--data-dir", path.join(bed.dir, "ctl-busy"), "--listen-port", String(port)]);
      expect(code).toBe(69);
      expect(output).toContain("(choose another port with --listen-port)");
      noStack(output);
    } finally {
      server.close();
    }
  });

  test("a second controller on the same data directory says so in one line, without a stack", async () => {
    const dataDir = path.join(bed.dir, "ctl-twice");
    const first = start(binary, ["controller", "--data-dir", dataDir, "--listen-port", "0"]);
    procs.push(first);
    await waitForOutput(first, CONTROLLER_URL);
    const second = await runToEnd(binary, ["controller", "--data-dir", dataDir, "--listen-port", "0"]);
    expect(second.code).toBe(69);
    expect(second.output).toContain("data directory is in use by process");
    noStack(second.output);
    first.kill();
    expect(await first.exited).toBe(0);
  });
});

describe("a plugin that does not exist (issue 14 item 5)", () => {
  test("job submit nosuch warns, and the job fails saying no built-in has that name, listing them, and how a bundle is named", async () => {
    const dataDir = path.join(bed.dir, "dev-nosuch");
    // logFormat auto, stderr a pipe: dev logs JSON like run does (docs/configuration.md), not text.
    const dev = start(binary, ["dev", "--data-dir", dataDir, "--listen-port", "0", "--status-port", "0"], { env: { EDGE_RUNNER_LOG_FORMAT: "auto" } });
    procs.push(dev);
    const url = await waitForOutput(dev, /controller\s+(http:\/\/\S+)/, 30_000);
    expect(dev.output()).toMatch(/^\{"ts":"[^"]+","level":"info"/m);
    const { code, output } = await runToEnd(binary, ["job", "submit", "nosuch", "--wait", "--json", "--data-dir", dataDir, "--controller-url", url]);
    expect(code).toBe(1);
    expect(output).toContain('Warning: Cannot find plugin "nosuch": no built-in plugin is named "nosuch" (the built-ins are "echo", "http"');
    const job = JSON.parse(output.split("\n").find((l) => l.startsWith("{")) ?? "{}") as { error?: { code: string; message: string } };
    expect(job.error?.code).toBe("plugin_not_found");
    expect(job.error?.message).toContain('a plugin bundle is named name@version ("nosuch@1.2.3")');
    expect(output).not.toContain("needs a version");
    dev.kill();
    await dev.exited;
  });
});

test("a second dev (a second npm start in the same folder) says the data directory is in use, in one line", async () => {
  const dataDir = path.join(bed.dir, "dev-twice");
  const first = start(binary, ["dev", "--data-dir", dataDir, "--listen-port", "0", "--status-port", "0"]);
  procs.push(first);
  await waitForOutput(first, /edge-runner dev is running/, 30_000);
  const second = await runToEnd(binary, ["dev", "--data-dir", dataDir, "--listen-port", "0", "--status-port", "0"]);
  expect(second.code).toBe(69);
  expect(second.output).toContain("data directory is in use by process");
  noStack(second.output);
  first.kill();
  await first.exited;
});

describe("keygen and git (issue 14 item 4)", () => {
  const git = (cwd: string, ...args: string[]) => spawnSync("git", args, { cwd, stdio: "ignore" });

  test("keygen --signing warns when git would pick up the private key, and not when it is ignored", async () => {
    const repo = path.join(bed.dir, "repo");
    mkdirSync(repo);
    expect(git(repo, "init", "-q").status).toBe(0);
    const exposed = await runToEnd(binary, ["keygen", "--signing", "--out-dir", path.join(repo, "keys"), "--kid", "dev"]);
    expect(exposed.code).toBe(0);
    expect(exposed.output).toContain(`Warning: private key "${path.join(repo, "keys", "signing-dev.key.jwk")}" is inside a git work tree that does not ignore it`);

    writeFileSync(path.join(repo, ".gitignore"), "*.key.jwk\n*.key.pem\n");
    const ignored = await runToEnd(binary, ["keygen", "--signing", "--out-dir", path.join(repo, "keys"), "--kid", "dev2"]);
    expect(ignored.code).toBe(0);
    expect(ignored.output).not.toContain("Warning");

    const outside = await runToEnd(binary, ["keygen", "--signing", "--out-dir", path.join(bed.dir, "loose-keys"), "--kid", "x"]);
    expect(outside.output).not.toContain("Warning");
  });

  test("the project's .gitignore ignores every private key file keygen writes", () => {
    const root = new URL("../..", import.meta.url).pathname;
    for (const file of ["keys/signing-dev.key.jwk", "keys/signing-dev.key.pem", "keys/runner-key.pem", "r1.api-key"]) {
      expect(spawnSync("git", ["check-ignore", "-q", "--no-index", file], { cwd: root }).status).toBe(0);
    }
    expect(spawnSync("git", ["check-ignore", "-q", "--no-index", "keys/release-public.jwk"], { cwd: root }).status).toBe(1);
  });
});

describe("the CLI from source (issue 14 item 8)", () => {
  const root = new URL("../..", import.meta.url).pathname;

  test("npm run -s cli -- prints only the CLI's own output, so --json can be piped into jq", () => {
    const run = spawnSync("npm", ["run", "-s", "cli", "--", "--version"], { cwd: root, encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^edge-runner \S+ \(commit \S+, bun\)\n$/);
  });

  test("README.md and docs/ run the CLI from source with npm run -s (npm's banner would break JSON)", () => {
    const files = ["README.md", ...readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
    const offenders = files.flatMap((file) =>
      readFileSync(path.join(root, file), "utf8").split("\n").flatMap((line, i) => (/npm run cli\b/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(offenders).toEqual([]);
  });
});
