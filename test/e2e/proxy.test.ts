// The built executable behind an HTTP forward proxy (docs/operations.md, "Behind a proxy"): a
// runner process started with HTTPS_PROXY reaches a TLS controller (private CA, --ca-file) through
// the fake proxy and runs a job. The controller's name (controller.proxy.test) resolves only in the
// proxy, so whatever tried to go direct fails: the compiled executable (Bun) and the bundle on Deno
// go through the proxy, session and WebSocket; the bundle on Node cannot, and says so at start.
// Bad proxy variables are a config error (78) naming the variable; proxy credentials never appear
// in the output.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
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
afterAll(() => controller.close());

function keyFileFor(id: string): string {
  const file = path.join(bed.dir, `${id}.key`);
  writeFileSync(file, controller.registerRunner({ id, group: "default" }).apiKey, { mode: 0o600 });
  return file;
}

function runArgs(id: string): string[] {
  return [
    "run", "--runner-id", id, "--api-key-file", keyFileFor(id), "--controller-url", `https://${HOST}:${controller.port}`, "--ca-file", caFile,
    "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(bed.dir, id),
  ];
}

describe("the executable behind a forward proxy", () => {
  for (const flavour of FLAVOURS) {
    const tag = flavour.name.replace(/\W/g, "");
    const what = flavour.name === "bundle on Node" ? "warns at start that it connects directly" : "reaches a TLS controller through it, WebSocket included, and runs a job";
    test(`${flavour.name}: a runner started with HTTPS_PROXY ${what}`, async () => {
      const through = await startForwardProxy({ credentials: { user: "runner", pass: PASSWORD }, hosts: { [HOST]: "127.0.0.1" } });
      try {
        const proc = start(flavour, runArgs(`proxy-${tag}`), {
          // DENO_NO_UPDATE_CHECK: Deno's own update check would go through the proxy too.
          env: { HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}`, NODE_EXTRA_CA_CERTS: caFile, DENO_NO_UPDATE_CHECK: "1" },
        });
        bed.procs.push(proc);
        if (flavour.name === "bundle on Node") {
          // Node's fetch and `ws` take no proxy: it says so at start, and cannot reach the controller.
          await waitForOutput(proc, /the runner on Node connects to the controller, GCP, S3 and integrations directly/);
          expect(proc.output()).toContain(`HTTPS_PROXY names proxy \\"http://127.0.0.1:${through.port}\\"`);
          expect(through.requests).toEqual([]);
        } else {
          const statusUrl = await waitForOutput(proc, STATUS_URL);
          await waitForHttp(`${statusUrl}/readyz`);
          const job = controller.submitJob({ plugin: "echo", input: { via: flavour.name } });
          expect((await controller.waitForJob(job.id, 20_000)).status).toBe("succeeded");
          // The WebSocket went through the proxy too (directly, the name does not resolve).
          expect(proc.output()).toContain("Connected to controller over websocket");
          expect(proc.output()).not.toContain("falling back to HTTP long-poll");
          expect(new Set(through.targets())).toEqual(new Set([`${HOST}:${controller.port}`]));
        }
        expect(proc.output()).not.toContain(PASSWORD);
        expect(proc.output()).not.toContain(Buffer.from(`runner:${PASSWORD}`).toString("base64"));
        proc.kill("SIGTERM");
        await proc.exited;
      } finally {
        await through.close();
      }
    }, 60_000);
  }

  test("compiled executable: a proxy refusing CONNECT leaves the runner not ready, its status naming the proxy without its password", async () => {
    const through = await startForwardProxy({ refuseConnect: 403 });
    try {
      const proc = start(TEST_BINARY as Flavour, runArgs("proxy-refused"), { env: { HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` } });
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
    const { code, output } = await runToEnd(TEST_BINARY as Flavour, runArgs("proxy-bad"), { env: { HTTPS_PROXY: `socks5://runner:${PASSWORD}@127.0.0.1:1080` } });
    expect(code).toBe(78);
    expect(output).toContain("Cannot use HTTPS_PROXY");
    expect(output).not.toContain(PASSWORD);
  });
});
