// The runner reaches a controller behind TLS with a private CA (the `caFile` option), over
// both transports, and refuses it without that CA.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { websocket } from "hono/bun";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { controllerClient, type ControllerClient } from "../../src/platform/controller-client.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually } from "../helpers/harness.ts";

let dir: string;
let caFile: string;
let controller: ReferenceController;
let server: { port?: number | undefined; stop(force?: boolean): unknown };
let apiKey: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-runner-tls-"));
  // A private CA and a server certificate it signed (a self-signed leaf used as its own CA is
  // refused by rustls on Deno: "CaUsedAsEndEntity").
  caFile = path.join(dir, "ca.pem");
  const caKey = path.join(dir, "ca-key.pem");
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  const csrFile = path.join(dir, "cert.csr");
  const extFile = path.join(dir, "ext.cnf");
  writeFileSync(extFile, "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  const openssl = (args: string[]) => {
    const made = spawnSync("openssl", args, { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`openssl ${args[0]} failed: ${made.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=edge-runner test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", caKey, "-out", caFile]);
  openssl(["req", ...ec, "-subj", "/CN=localhost", "-keyout", keyFile, "-out", csrFile]);
  openssl(["x509", "-req", "-in", csrFile, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", extFile, "-out", certFile]);
  controller = ReferenceController.create({ dataDir: path.join(dir, "c"), logger: memoryLogger("error").logger });
  apiKey = controller.registerRunner({ id: "r1", group: "default" }).apiKey;
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: controller.app.fetch, websocket, tls: { cert: readFileSync(path.join(dir, "cert.pem"), "utf8"), key: readFileSync(path.join(dir, "key.pem"), "utf8") } });
});

afterAll(async () => {
  server.stop(true);
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

test("the compiled binary, the bundle on Node (NODE_EXTRA_CA_CERTS) and on Deno reach a private-CA controller with --ca-file", async () => {
  const { FLAVOURS, STATUS_URL, start, waitForHttp, waitForOutput } = await import("../helpers/processes.ts");
  const keyFile = path.join(dir, "r1.key");
  await Bun.write(keyFile, apiKey);
  const { chmodSync } = await import("node:fs");
  chmodSync(keyFile, 0o600);
  for (const flavour of FLAVOURS) {
    const runner = start(flavour, [
      "run", "--runner-id", "r1", "--api-key-file", keyFile, "--ca-file", caFile, "--controller-url", `https://localhost:${server.port}`,
      "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(dir, `runner-${flavour.name.replace(/\W/g, "")}`),
    ], { env: { NODE_EXTRA_CA_CERTS: caFile } });
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
  }
}, 60_000);
