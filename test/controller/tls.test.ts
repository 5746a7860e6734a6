// The runner reaches a controller behind TLS with a private CA (the `caFile` option), over
// both transports, and refuses it without that CA.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { controllerClient, type ControllerClient } from "../../src/platform/controller-client.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually } from "../helpers/harness.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";

let dir: string;
let caFile: string;
let controller: ReferenceController;
let server: { port: number };
let apiKey: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-runner-tls-"));
  const made = makePrivateCa(dir);
  caFile = made.caFile;
  const { certFile, keyFile } = made;
  // The reference controller itself serves HTTPS/WSS with the CA-signed certificate.
  controller = await ReferenceController.start({
    dataDir: path.join(dir, "c"), logger: memoryLogger("error").logger,
    tls: { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") },
  });
  expect(controller.url).toStartWith("https://");
  server = { port: controller.port };
  apiKey = (await controller.registerRunner({ id: "r1", group: "default" })).apiKey;
});

afterAll(async () => {
  await controller.close();
  rmSync(dir, { recursive: true, force: true });
});

function connect(transport: "websocket" | "poll", client?: ControllerClient) {
  const connection = new EdgeConnection({
    controllerUrl: `https://localhost:${server.port}`, runnerId: "r1", group: "default", apiKey, version: "t", transport,
    reconnectMinMs: 50, reconnectMaxMs: 200, startJitterMs: 0, logger: memoryLogger("error").logger,
    ...(client === undefined ? {} : { client }),
  });
  const stop = new AbortController();
  const done = connection.run({ signal: stop.signal, onJob: () => {} });
  return { connection, stop: async () => { stop.abort(); await done; } };
}

for (const transport of ["websocket", "poll"] as const) {
  test(`EdgeConnection connects over ${transport} to a controller whose CA is in caFile`, async () => {
    const { connection, stop } = connect(transport, controllerClient({ caPem: readFileSync(caFile, "utf8"), caFile }));
    await eventually(() => (connection.status().state === "connected" ? true : undefined));
    expect(connection.status().transport).toBe(transport);
    await stop();
  });
}

test("EdgeConnection refuses a controller certificate from an unknown CA", async () => {
  const { connection, stop } = connect("websocket");
  await eventually(() => (connection.status().lastError !== undefined ? true : undefined));
  expect(connection.status().state).not.toBe("connected");
  expect(connection.status().lastError).toMatch(/certificate|self.signed|verify/i);
  await stop();
});

test("each flavour (compiled, Node, Deno) serves the controller over TLS and its runner reaches it with --ca-file", async () => {
  const { CONTROLLER_URL, FLAVOURS, STATUS_URL, runToEnd, start, waitForHttp, waitForOutput } = await import("../helpers/processes.ts");
  const tlsFlags = ["--tls-cert-file", path.join(dir, "cert.pem"), "--tls-key-file", path.join(dir, "key.pem")];
  for (const flavour of FLAVOURS) {
    const tag = flavour.name.replace(/\W/g, "");
    const dataDir = path.join(dir, `ctl-${tag}`);
    // NODE_EXTRA_CA_CERTS: how Node trusts a private CA (the runner insists on it there).
    const env = { NODE_EXTRA_CA_CERTS: caFile };
    const ctl = start(flavour, ["controller", "--data-dir", dataDir, "--listen-port", "0", ...tlsFlags], { env });
    try {
      const url = (await waitForOutput(ctl, CONTROLLER_URL)).replace("127.0.0.1", "localhost");
      expect(url).toStartWith("https://localhost:");
      const keyFile = path.join(dir, `${tag}.key`);
      const registered = await runToEnd(flavour, ["runner", "register", "r1", "--api-key-out", keyFile, "--controller-url", url, "--data-dir", dataDir, "--ca-file", caFile], { env });
      expect(registered.code).toBe(0);
      const runner = start(flavour, [
        "run", "--runner-id", "r1", "--api-key-file", keyFile, "--ca-file", caFile, "--controller-url", url,
        "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(dir, `runner-${tag}`),
      ], { env });
      try {
        const statusUrl = await waitForOutput(runner, STATUS_URL);
        try {
          await waitForHttp(`${statusUrl}/readyz`);
        } catch (error) {
          throw new Error(`${flavour.name}: ${(error as Error).message}\n${runner.output().slice(-3000)}`);
        }
      } finally {
        runner.kill("SIGTERM");
        await runner.exited;
      }
    } finally {
      ctl.kill("SIGTERM");
      await ctl.exited;
    }
  }
}, 90_000);
