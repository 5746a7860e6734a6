// End to end through the built executable: a controller process, runner processes, and the CLI,
// as a user runs them. Also the crash cases: a runner SIGKILLed while it holds a lease, and a
// controller restarted with jobs queued.

import { describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { FLAVOURS, STATUS_URL, runToEnd, start, waitForHttp, waitForOutput, type Flavour, type Proc } from "../helpers/processes.ts";
import { binaryBed, launchController } from "../helpers/binary-bed.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";

const binary = FLAVOURS[0] as Flavour;
const bed = binaryBed("edge-runner-e2e-");
const { procs } = bed;

interface Cluster {
  url: string;
  dataDir: string;
  controller: Proc;
  cli(args: string[]): Promise<{ code: number | null; output: string }>;
  submit(plugin: string, action: string, input: unknown): Promise<string>;
  startRunner(id: string, extra?: string[]): Promise<{ proc: Proc; statusUrl: string }>;
  register(id: string): Promise<string>;
}

async function startController(flavour: Flavour, name: string, extra: string[] = [], port?: number): Promise<Cluster> {
  const dataDir = path.join(bed.dir, name);
  const { proc: controller, url, common } = await launchController(flavour, procs, dataDir, { port, extra });
  const cli = (args: string[]) => runToEnd(flavour, [...args, ...common]);
  return {
    url,
    dataDir,
    controller,
    cli,
    async register(id) {
      const keyFile = path.join(dataDir, `${id}.key`);
      const { code, output } = await cli(["runner", "register", id, "--api-key-out", keyFile]);
      expect(output).toContain(id);
      expect(code).toBe(0);
      return keyFile;
    },
    async submit(plugin, action, input) {
      const { code, output } = await cli(["job", "submit", plugin, "--action", action, "--input", JSON.stringify(input), "--json"]);
      expect(code).toBe(0);
      return (JSON.parse(output) as { id: string }).id;
    },
    async startRunner(id, extra = []) {
      const keyFile = path.join(dataDir, `${id}.key`);
      const proc = start(flavour, [
        "run", "--runner-id", id, "--api-key-file", keyFile, "--controller-url", url,
        "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(dataDir, id), ...extra,
      ]);
      procs.push(proc);
      const statusUrl = await waitForOutput(proc, STATUS_URL);
      await waitForHttp(`${statusUrl}/readyz`);
      return { proc, statusUrl };
    },
  };
}

async function jobOf(cluster: Cluster, id: string, waitMs = 0): Promise<{ status: string; attempt: number; output?: unknown; error?: { code: string } }> {
  const args = waitMs > 0 ? ["job", "get", id, "--json", "--wait", String(waitMs)] : ["job", "get", id, "--json"];
  const { output } = await cluster.cli(args);
  return JSON.parse(output);
}

async function waitForStatus(cluster: Cluster, id: string, want: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await jobOf(cluster, id);
    if (job.status === want) return job;
    if (Date.now() > deadline) throw new Error(`Job ${id} is ${job.status}, not ${want}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("edge-runner executable", () => {
  for (const flavour of FLAVOURS) {
    test(`${flavour.name}: controller + runner + CLI run jobs end to end`, async () => {
      const cluster = await startController(flavour, `smoke-${flavour.name.replace(/\W/g, "")}`);
      await cluster.register("r1");
      const { proc, statusUrl } = await cluster.startRunner("r1");
      const { code, output } = await cluster.cli(["job", "submit", "echo", "--input", '{"hello":"world"}', "--wait", "--json"]);
      expect(code).toBe(0);
      const job = JSON.parse(output) as { status: string; output: unknown; attempt: number };
      expect(job.status).toBe("succeeded");
      expect(job.output).toEqual({ hello: "world" });
      const logs = await cluster.cli(["job", "logs", (JSON.parse(output) as { id: string }).id]);
      expect(logs.output).toContain("hello");
      const failed = await cluster.cli(["job", "submit", "echo", "--action", "fail", "--input", '{"message":"boom"}', "--wait", "--json"]);
      expect(JSON.parse(failed.output).status).toBe("failed");
      expect(JSON.parse(failed.output).error.message).toContain("boom");
      const status = (await (await fetch(`${statusUrl}/status`)).json()) as { runnerId: string; recent: unknown[] };
      expect(status.runnerId).toBe("r1");
      expect(status.recent.length).toBe(2);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      cluster.controller.kill("SIGTERM");
      expect(await cluster.controller.exited).toBe(0);
    }, 60_000);
  }

  test("secret set and job submit --secrets: the job resolves the secret, logs and CLI never show it", async () => {
    const cluster = await startController(binary, "secrets");
    await cluster.register("r1");
    await cluster.startRunner("r1");
    const valueFile = path.join(bed.dir, "secret-value");
    await Bun.write(valueFile, "tf-token-0123456789\n");
    expect((await cluster.cli(["secret", "set", "tf/token", "--value-file", valueFile])).code).toBe(0);
    const listed = await cluster.cli(["secret", "list"]);
    expect(listed.output).toContain("tf/token");
    expect(listed.output).not.toContain("tf-token-0123456789");
    const submitted = await cluster.cli(["job", "submit", "echo", "--action", "secret", "--input", '{"ref":"tf/token"}', "--secrets", "tf/token", "--wait", "--json"]);
    const job = JSON.parse(submitted.output) as { id: string; status: string; output: unknown };
    expect(job.status).toBe("succeeded");
    expect(job.output).toEqual({ ref: "tf/token", length: 19 });
    const logs = await cluster.cli(["job", "logs", job.id]);
    expect(logs.output).toContain("[REDACTED]");
    expect(logs.output).not.toContain("tf-token-0123456789");
  }, 60_000);

  test("a runner SIGKILLed while holding a lease: a new runner completes the job on attempt 2", async () => {
    const cluster = await startController(binary, "sigkill", ["--lease-ttl", "2s", "--heartbeat-interval", "500ms"]);
    await cluster.register("r1");
    await cluster.register("r2");
    const first = await cluster.startRunner("r1");
    const id = await cluster.submit("echo", "sleep", { ms: 1500 });
    await waitForStatus(cluster, id, "running");
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    await cluster.startRunner("r2");
    const job = await waitForStatus(cluster, id, "succeeded");
    expect(job.attempt).toBe(2);
  }, 60_000);

  test("the controller restarts (even after SIGKILL) and loses no queued job", async () => {
    const cluster = await startController(binary, "restart");
    await cluster.register("r1");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await cluster.submit("echo", "default", { n: i }));
    cluster.controller.kill("SIGKILL");
    await cluster.controller.exited;
    const port = Number(new URL(cluster.url).port);
    const again = await startController(binary, "restart", [], port);
    await again.startRunner("r1");
    for (const id of ids) expect((await waitForStatus(again, id, "succeeded")).attempt).toBe(1);
  }, 60_000);

  test("SIGTERM drains: the running job finishes and the runner exits 0; a second SIGTERM interrupts", async () => {
    const cluster = await startController(binary, "drain");
    await cluster.register("r1");
    const runner = await cluster.startRunner("r1");
    const id = await cluster.submit("echo", "sleep", { ms: 800 });
    await waitForStatus(cluster, id, "running");
    runner.proc.kill("SIGTERM");
    expect(await runner.proc.exited).toBe(0);
    expect((await jobOf(cluster, id)).status).toBe("succeeded");

    const again = await cluster.startRunner("r1");
    const long = await cluster.submit("echo", "sleep", { ms: 120_000 });
    await waitForStatus(cluster, long, "running");
    again.proc.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    again.proc.kill("SIGTERM");
    expect(await again.proc.exited).toBe(0);
    expect(again.proc.output()).toContain("interrupting");
    const job = await jobOf(cluster, long);
    expect(job.status).toBe("queued"); // interrupted jobs go back to the queue while attempts remain
  }, 60_000);

  test("a bad config value exits 78 before any network call and names the field", async () => {
    const { code, output } = await runToEnd(binary, ["run", "--concurrency", "0", "--runner-id", "r1", "--api-key", "k-secret-123", "--controller-url", "http://127.0.0.1:9"]);
    expect(code).toBe(78);
    expect(output).toContain('"concurrency"');
    expect(output).not.toContain("k-secret-123");
    const missing = await runToEnd(binary, ["run"]);
    expect(missing.code).toBe(78);
    expect(missing.output).toContain("runnerId");
  });

  test("dev runs a controller and a runner in one process, prints the demo result, stops on SIGINT", async () => {
    const dev = start(binary, ["dev", "--data-dir", path.join(bed.dir, "dev"), "--listen-port", "0", "--status-port", "0"]);
    procs.push(dev);
    expect(await waitForOutput(dev, /demo job +job_\S+: (\w+)/)).toBe("succeeded");
    const statusUrl = await waitForOutput(dev, /status page +(http:\/\/\S+)\//);
    await waitForHttp(`${statusUrl}/readyz`);
    dev.kill("SIGINT");
    expect(await dev.exited).toBe(0);
  }, 30_000);

  test("the bundle on Node refuses caFile without NODE_EXTRA_CA_CERTS (exit 78, names the fix)", async () => {
    const node = FLAVOURS[1] as Flavour;
    // A real CA: a made-up block is refused first, as not PEM certificates (src/config/ca-bundle.ts).
    const caDir = path.join(bed.dir, "node-ca");
    mkdirSync(caDir, { recursive: true });
    const { caFile } = makePrivateCa(caDir);
    const args = ["run", "--runner-id", "r1", "--api-key", "k-123456", "--ca-file", caFile, "--controller-url", "https://127.0.0.1:9", "--status-port", "0"];
    const { code, output } = await runToEnd(node, args, { env: { NODE_EXTRA_CA_CERTS: "" } });
    expect(code).toBe(78);
    expect(output).toContain(`NODE_EXTRA_CA_CERTS="${caFile}"`);
  });

  test("--version prints the version and the build commit", async () => {
    const { code, output } = await runToEnd(binary, ["--version"]);
    expect(code).toBe(0);
    expect(output).toMatch(/^edge-runner \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}(-dirty)?, bun\)/);
  });
});
