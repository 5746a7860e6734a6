// Every CA bundle option (caFile, s3CaFile, vaultCaFile) is held to one rule when the config is
// read: a bundle that is not only PEM certificates is config_invalid naming the field (exit 78),
// before any network call, instead of failing late and differently per runtime (Node skips a
// broken block, Bun refuses the whole bundle at the first connection).

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import * as path from "node:path";
import { readCaBundle } from "../../src/config/ca-bundle.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { backendOptionsFromConfig } from "../../src/secrets/references/from-config.ts";
import { s3Options } from "../../src/storage/open-store.ts";
import { caBundles } from "../helpers/bad-ca-bundles.ts";
import { tempDir } from "../helpers/harness.ts";

const tmp = tempDir("edge-runner-ca-bundle-");
afterAll(() => tmp.remove());
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const made = caBundles(tmp.dir);
const TOKEN = "hvs.s3cr3t-T0ken-part";

function file(name: string, text: string): string {
  const at = path.join(tmp.dir, name);
  writeFileSync(at, text, { mode: 0o600 });
  chmodSync(at, 0o600);
  return at;
}

function thrown(run: () => unknown): { code?: string; field?: string; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code?: string; field?: string; message: string };
  }
  throw new Error("expected a config error");
}

const runnerConfig = (env: Record<string, string>) => resolveConfig({ scopes: ["runner"], argv: [], env }).config;

/** Each option, and the start-up function that reads it, from a path to the bundle. */
const READERS: Record<string, (ca: string) => unknown> = {
  caFile: (ca) => readCaBundle(ca, "caFile"),
  s3CaFile: (ca) => s3Options(runnerConfig({ EDGE_RUNNER_STORAGE_BACKEND: "s3", EDGE_RUNNER_S3_BUCKET: "my-bucket", EDGE_RUNNER_S3_CA_FILE: ca })),
  vaultCaFile: (ca) => backendOptionsFromConfig(runnerConfig({ EDGE_RUNNER_VAULT_ADDR: "https://vault.example:8200", EDGE_RUNNER_VAULT_TOKEN_FILE: file("token", `${TOKEN}\n`), EDGE_RUNNER_VAULT_CA_FILE: ca })),
};

describe("readCaBundle()", () => {
  test("readCaBundle() returns a good bundle's text, comments included", () => {
    const pem = `# our private CA\n${made.caPem}${made.leafPem}`;
    expect(readCaBundle(file("good.pem", pem), "caFile")).toBe(pem);
  });

  test("readCaBundle() refuses a missing file naming the field", () => {
    const missing = path.join(tmp.dir, "missing.pem");
    const error = thrown(() => readCaBundle(missing, "s3CaFile"));
    expect({ code: error.code, field: error.field }).toEqual({ code: "config_invalid", field: "s3CaFile" });
    expect(error.message).toStartWith(`Cannot read "s3CaFile" "${missing}": `);
  });
});

describe("every CA bundle option at start", () => {
  for (const [field, read] of Object.entries(READERS)) {
    test(`${field}: a good bundle is taken, every bad one is config_invalid naming ${field}`, () => {
      expect(() => read(made.caFile)).not.toThrow();
      for (const [name, pem] of Object.entries(made.bad)) {
        const ca = file(`${field}-${name.replace(/\W+/g, "-")}.pem`, pem);
        const error = thrown(() => read(ca));
        expect({ name, code: error.code, field: error.field }).toEqual({ name, code: "config_invalid", field });
        expect(error.message).toStartWith(`Cannot use "${field}" "${ca}": `);
      }
    });
  }
});

/** A listener that counts connections: a command pointed at it must make none. */
async function countingListener(): Promise<{ port: number; connections: Socket[] }> {
  const connections: Socket[] = [];
  const listener = createTcpServer((socket) => connections.push(socket));
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => { for (const socket of connections) socket.destroy(); listener.close(() => resolve()); }));
  return { port: (listener.address() as AddressInfo).port, connections };
}

async function edgeRunner(args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  const root = new URL("../..", import.meta.url).pathname;
  const child = Bun.spawn([process.execPath, `${root}src/main.ts`, ...args], { cwd: root, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", ...env } });
  // A command that accepted the bundle might keep running: it is stopped when the test ends.
  closers.push(() => { child.kill(); });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, output: stdout + stderr };
}

const BAD = made.bad["markers around text that is not base64"]!;

describe("edge-runner with a bad CA bundle", () => {
  test("edge-runner run with a caFile that is not PEM certificates exits 78 naming caFile, before any network call", async () => {
    const { port, connections } = await countingListener();
    const ca = file("run-ca.pem", BAD);
    const { code, output } = await edgeRunner(["run", "--runner-id", "ca-run", "--api-key-file", file("api-key", "api-key-0123456789abcdef\n"), "--controller-url", `https://127.0.0.1:${port}`,
      "--ca-file", ca, "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(tmp.dir, "run-data")]);
    expect({ code, output }).toEqual({ code: 78, output: expect.stringContaining(`Cannot use "caFile" "${ca}"`) });
    expect(connections.length).toBe(0);
  }, 20_000);

  test("edge-runner run with an s3CaFile that is not PEM certificates exits 78 naming s3CaFile, before any network call", async () => {
    const { port, connections } = await countingListener();
    const ca = file("run-s3-ca.pem", made.bad["a private key instead of a certificate"]!);
    const { code, output } = await edgeRunner(["run", "--runner-id", "s3-ca-run", "--api-key-file", file("api-key-s3", "api-key-0123456789abcdef\n"), "--controller-url", `https://127.0.0.1:${port}`,
      "--storage-backend", "s3", "--s3-bucket", "my-bucket", "--s3-endpoint", `https://127.0.0.1:${port}`, "--s3-ca-file", ca,
      "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(tmp.dir, "run-s3-data")]);
    expect({ code, output }).toEqual({ code: 78, output: expect.stringContaining(`Cannot use "s3CaFile" "${ca}"`) });
    expect(connections.length).toBe(0);
  }, 20_000);

  test("edge-runner runner list (an admin command) with a caFile that is not PEM certificates exits 78 naming caFile, before any network call", async () => {
    const { port, connections } = await countingListener();
    const ca = file("admin-ca.pem", BAD);
    const { code, output } = await edgeRunner(["runner", "list", "--controller-url", `https://127.0.0.1:${port}`, "--admin-token", "admin-token-0123456789", "--ca-file", ca]);
    expect({ code, output }).toEqual({ code: 78, output: expect.stringContaining(`Cannot use "caFile" "${ca}": certificate 1 is not valid PEM`) });
    expect(output).not.toContain("admin-token-0123456789");
    expect(connections.length).toBe(0);
  }, 20_000);
});
