// The built executable behind an HTTP forward proxy (docs/operations.md, "Behind a proxy"): a
// runner process started with HTTPS_PROXY reaches a TLS controller (private CA, --ca-file) through
// the fake proxy and runs a job. The controller's name (controller.proxy.test) resolves only in the
// proxy, so whatever tried to go direct fails: every flavour goes through the proxy, session and
// WebSocket (on Node through the runner's own CONNECT tunnel agents, src/platform/node-proxy-fetch.ts).
// Bad proxy variables are a config error (78) naming the variable; proxy credentials never appear
// in the output.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { FLAVOURS, STATUS_URL, runToEnd, start, waitForHttp, waitForOutput, type Flavour } from "../helpers/processes.ts";
import { binaryBed, TEST_BINARY } from "../helpers/binary-bed.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";
import { startForwardProxy } from "../helpers/forward-proxy.ts";

const bed = binaryBed("edge-runner-proxy-e2e-");
const PASSWORD = "e2e-pr0xy-Pw-3";
/** Resolved by the fake proxy only (.test is reserved: no resolver answers it). */
const HOST = "controller.proxy.test";
/** A system a job calls (the http plugin), resolved by the fake proxy only as well. */
const API_HOST = "api.proxy.test";
let api: { port: number; close(): void };
let controller: ReferenceController;
let caFile: string;

beforeAll(async () => {
  const made = makePrivateCa(bed.dir, [HOST]);
  caFile = made.caFile;
  controller = await ReferenceController.start({
    dataDir: path.join(bed.dir, "controller"), logger: memoryLogger("error").logger, allowedHosts: [HOST],
    tls: { cert: readFileSync(made.certFile, "utf8"), key: readFileSync(made.keyFile, "utf8") },
  });
});
beforeAll(async () => {
  const server = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("hello through the proxy"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  api = { port: (server.address() as AddressInfo).port, close: () => server.close() };
});
afterAll(() => {
  api.close();
  return controller.close();
});

async function keyFileFor(id: string): Promise<string> {
  const file = path.join(bed.dir, `${id}.key`);
  writeFileSync(file, (await controller.registerRunner({ id, group: "default" })).apiKey, { mode: 0o600 });
  return file;
}

async function runArgs(id: string): Promise<string[]> {
  return [
    "run", "--runner-id", id, "--api-key-file", await keyFileFor(id), "--controller-url", `https://${HOST}:${controller.port}`, "--ca-file", caFile,
    "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(bed.dir, id),
  ];
}

describe("the executable behind a forward proxy", () => {
  for (const flavour of FLAVOURS) {
    const tag = flavour.name.replace(/\W/g, "");
    test(`${flavour.name}: a runner started with HTTPS_PROXY reaches a TLS controller through it, WebSocket included, and runs a job`, async () => {
      const through = await startForwardProxy({ credentials: { user: "runner", pass: PASSWORD }, hosts: { [HOST]: "127.0.0.1", [API_HOST]: "127.0.0.1" } });
      try {
        const proc = start(flavour, await runArgs(`proxy-${tag}`), {
          // DENO_NO_UPDATE_CHECK: Deno's own update check would go through the proxy too.
          env: { HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}`, HTTP_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}`, NODE_EXTRA_CA_CERTS: caFile, DENO_NO_UPDATE_CHECK: "1" },
        });
        bed.procs.push(proc);
        const statusUrl = await waitForOutput(proc, STATUS_URL);
        await waitForHttp(`${statusUrl}/readyz`);
        const job = controller.submitJob({ plugin: "echo", input: { via: flavour.name } });
        expect((await controller.waitForJob(job.id, 20_000)).status).toBe("succeeded");
        // A plugin's own call (the http plugin's fetch, in the plugin worker) goes through the
        // proxy too, on Node as well (src/platform/outbound-fetch.ts): direct, the name does not resolve.
        const call = controller.submitJob({ plugin: "http", input: { url: `http://${API_HOST}:${api.port}/hello`, method: "GET" } });
        expect(await controller.waitForJob(call.id, 20_000)).toMatchObject({ status: "succeeded", output: { status: 200, body: "hello through the proxy" } });
        // The WebSocket went through the proxy too (directly, the name does not resolve).
        expect(proc.output()).toContain("Connected to controller over websocket");
        expect(proc.output()).not.toContain("falling back to HTTP long-poll");
        // Every runtime sends a plain-http call to the proxy as an absolute URI (a proxy may allow CONNECT to 443 only).
        expect(new Set(through.targets())).toEqual(new Set([`${HOST}:${controller.port}`, `http://${API_HOST}:${api.port}/hello`]));
        expect(proc.output()).not.toContain(PASSWORD);
        expect(proc.output()).not.toContain(Buffer.from(`runner:${PASSWORD}`).toString("base64"));
        proc.kill("SIGTERM");
        await proc.exited;
      } finally {
        await through.close();
      }
    }, 60_000);
  }

  test("bundle on Node with --transport poll: the long-poll session runs a job through the proxy", async () => {
    // Node's calls through a proxy go out on node:http(s) (src/platform/node-proxy-fetch.ts): the
    // held receive, the sends, and their abort at stop.
    const node = FLAVOURS.find((f) => f.name === "bundle on Node") as Flavour;
    const through = await startForwardProxy({ credentials: { user: "runner", pass: PASSWORD }, hosts: { [HOST]: "127.0.0.1" } });
    try {
      const proc = start(node, [...await runArgs("proxy-node-poll"), "--transport", "poll"], {
        env: { HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}`, NODE_EXTRA_CA_CERTS: caFile },
      });
      bed.procs.push(proc);
      await waitForHttp(`${await waitForOutput(proc, STATUS_URL)}/readyz`);
      expect(proc.output()).toContain("Connected to controller over poll");
      for (const n of [1, 2]) {
        const job = controller.submitJob({ plugin: "echo", input: { poll: n } });
        expect(await controller.waitForJob(job.id, 20_000)).toMatchObject({ status: "succeeded", output: { poll: n } });
      }
      expect(new Set(through.targets())).toEqual(new Set([`${HOST}:${controller.port}`]));
      expect(proc.output()).not.toContain(PASSWORD);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      await through.close();
    }
  }, 60_000);

  test("compiled executable: the proxy password a job prints is masked in the job's logs, its result and the runner's output", async () => {
    // The runner registers the proxy variables' credentials with its redaction at start
    // (src/cli/runner-service.ts): nothing else in this job knows the password is one. The shell
    // gives its program only the environment it is told (PATH, HOME, ... and `env`), so the job
    // hands it the same proxy URL in `env`, as a job running curl behind the proxy would.
    const through = await startForwardProxy({ credentials: { user: "runner", pass: PASSWORD }, hosts: { [HOST]: "127.0.0.1" } });
    try {
      const proxyUrl = `http://runner:${PASSWORD}@127.0.0.1:${through.port}`;
      const proc = start(TEST_BINARY as Flavour, [...await runArgs("proxy-masked"), "--log-level", "debug"], { env: { HTTPS_PROXY: proxyUrl } });
      bed.procs.push(proc);
      await waitForHttp(`${await waitForOutput(proc, STATUS_URL)}/readyz`);
      const job = controller.submitJob({
        plugin: "shell",
        input: { command: ["sh", "-c", 'echo "stdout: $HTTPS_PROXY"; echo "stderr: $HTTPS_PROXY" >&2; exit 3'], env: { HTTPS_PROXY: proxyUrl } },
      });
      const done = await controller.waitForJob(job.id, 20_000);
      expect(done.status).toBe("failed");
      const logs = JSON.stringify(await controller.core.logs.read(job.id, 0, 1000));
      // The lines arrived, with the proxy's address and without its password.
      expect(logs).toContain(`stdout: http://`);
      expect(logs).toContain(`stderr: http://`);
      expect(logs).toContain(`127.0.0.1:${through.port}`);
      // (The job's input holds the URL as given: the submitter's, not the runner's, to keep.)
      for (const seen of [logs, JSON.stringify({ output: done.output, error: done.error }), proc.output()]) {
        expect(seen).not.toContain(PASSWORD);
        expect(seen).not.toContain(Buffer.from(`runner:${PASSWORD}`).toString("base64"));
      }
      proc.kill("SIGTERM");
      await proc.exited;
    } finally {
      await through.close();
    }
  }, 60_000);

  test("compiled executable: a proxy refusing CONNECT leaves the runner not ready, its status naming the proxy without its password", async () => {
    const through = await startForwardProxy({ refuseConnect: 403 });
    try {
      const proc = start(TEST_BINARY as Flavour, await runArgs("proxy-refused"), { env: { HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` } });
      bed.procs.push(proc);
      await waitForOutput(proc, new RegExp(`through proxy \\\\?"http://127\\.0\\.0\\.1:${through.port}\\\\?" from HTTPS_PROXY`));
      expect(proc.output()).toContain("403");
      expect(proc.output()).not.toContain(PASSWORD);
      proc.kill("SIGTERM");
      await proc.exited;
    } finally {
      await through.close();
    }
  }, 60_000);

  test("compiled executable: a proxy variable that is not an http:// URL is a config error (78) naming it", async () => {
    const { code, output } = await runToEnd(TEST_BINARY as Flavour, await runArgs("proxy-bad"), { env: { HTTPS_PROXY: `socks5://runner:${PASSWORD}@127.0.0.1:1080` } });
    expect(code).toBe(78);
    expect(output).toContain("Cannot use HTTPS_PROXY");
    expect(output).not.toContain(PASSWORD);
  });
});
