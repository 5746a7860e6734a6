// The runner reaches a controller behind TLS with a private CA (the `caFile` option), over
// both transports, and refuses it without that CA.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
  caFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  const made = spawnSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyFile, "-out", caFile,
  ], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  controller = ReferenceController.create({ dataDir: path.join(dir, "c"), logger: memoryLogger("error").logger });
  apiKey = controller.registerRunner({ id: "r1", group: "default" }).apiKey;
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: controller.app.fetch, websocket, tls: { cert: readFileSync(caFile, "utf8"), key: readFileSync(keyFile, "utf8") } });
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
