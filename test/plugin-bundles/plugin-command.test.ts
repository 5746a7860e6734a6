// The CLI round trip on examples/hello-plugin, each step a real `edge-runner` process (from source).

import { afterAll, expect, test } from "bun:test";
import { Hono } from "hono";
import { mkdir, readdir, readFile, stat, truncate, writeFile, copyFile } from "node:fs/promises";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";
import { bundleRoutes } from "../../src/reference-controller/bundle-routes.ts";
import { BundleStore } from "../../src/reference-controller/bundle-store.ts";
import { tempDir } from "./fixtures.ts";

const root = new URL("../..", import.meta.url).pathname;
const servers: HttpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, `${root}/src/main.ts`, ...args], { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, EDGE_RUNNER_ADMIN_TOKEN: "" } });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

test("plugin build/sign/verify/publish/run round trip on examples/hello-plugin", async () => {
  const dir = await tempDir("edge-cli-");
  const keys = await cli("keygen", "--signing", "--out-dir", `${dir}/keys`, "--kid", "dev-key");
  expect(keys.code).toBe(0);
  expect(JSON.parse(keys.stdout.slice(0, keys.stdout.indexOf("}") + 1)).kid).toBe("dev-key");

  const built = await cli("plugin", "build", "examples/hello-plugin/index.ts", "--out", `${dir}/dist`);
  expect(built.code).toBe(0);
  const manifest = JSON.parse(await readFile(`${dir}/dist/hello-1.0.0.manifest.json`, "utf8"));
  expect(manifest).toMatchObject({ name: "hello", version: "1.0.0", actions: ["echo", "greet", "ping"], size: (await stat(`${dir}/dist/hello-1.0.0.mjs`)).size });
  expect(manifest.digest).toMatch(/^sha256-[A-Za-z0-9_-]{43}$/);

  const signed = await cli("plugin", "sign", `${dir}/dist/hello-1.0.0.manifest.json`, "--key", `${dir}/keys/signing-dev-key.key.jwk`);
  expect(signed.code).toBe(0);
  expect(signed.stdout.trim()).toBe(`${dir}/dist/hello-1.0.0.jws`);

  await mkdir(`${dir}/trusted`);
  await copyFile(`${dir}/keys/signing-dev-key.pub.jwk`, `${dir}/trusted/dev-key.jwk`);
  const ok = await cli("plugin", "verify", `${dir}/dist/hello-1.0.0.mjs`, "--trusted-keys", `${dir}/trusted`, "--name", "hello", "--version", "1.0.0");
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain('is signed by trusted key "dev-key"');

  // A bundle far over --max-bytes (an 8 GiB sparse file) is refused by its size, never read.
  await copyFile(`${dir}/dist/hello-1.0.0.manifest.json`, `${dir}/dist/huge-1.0.0.manifest.json`);
  await copyFile(`${dir}/dist/hello-1.0.0.jws`, `${dir}/dist/huge-1.0.0.jws`);
  await writeFile(`${dir}/dist/huge-1.0.0.mjs`, "");
  await truncate(`${dir}/dist/huge-1.0.0.mjs`, 8 * 1024 ** 3);
  const huge = await cli("plugin", "verify", `${dir}/dist/huge-1.0.0.mjs`, "--trusted-keys", `${dir}/trusted`);
  expect([huge.code, huge.stdout]).toEqual([1, `REFUSED: bundle_too_large: Cannot verify bundle "${dir}/dist/huge-1.0.0.mjs": The file "${dir}/dist/huge-1.0.0.mjs" is ${8 * 1024 ** 3} bytes, over the cap of 33554432 bytes for it; not read\n`]);

  const bytes = await readFile(`${dir}/dist/hello-1.0.0.mjs`);
  bytes[100] = (bytes[100] ?? 0) ^ 1;
  await writeFile(`${dir}/dist/hello-1.0.0.mjs`, bytes);
  const tampered = await cli("plugin", "verify", `${dir}/dist/hello-1.0.0.mjs`, "--trusted-keys", `${dir}/trusted`);
  expect(tampered.code).toBe(1);
  expect(tampered.stdout).toStartWith('REFUSED: bundle_digest_mismatch: Cannot verify bundle "hello@1.0.0": digest is "sha256-');
  bytes[100] = (bytes[100] ?? 0) ^ 1;
  await writeFile(`${dir}/dist/hello-1.0.0.mjs`, bytes);

  const storeDir = `${dir}/store`;
  const app = bundleRoutes({ store: new BundleStore({ dir: storeDir }), authorize: (req, access) => access === "publish" && req.headers.get("authorization") === "Bearer s3cret-admin" });
  const server = await serveHttp(new Hono().route("/", app), { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  await writeFile(`${dir}/admin-token`, "s3cret-admin\n", { mode: 0o600 });
  const published = await cli("plugin", "publish", `${dir}/dist/hello-1.0.0.mjs`, "--controller-url", server.url, "--admin-token-file", `${dir}/admin-token`, "--progress");
  expect([published.code, published.stderr]).toEqual([0, expect.stringContaining("Uploading: 100%")]);
  expect(published.stdout).toContain('Published "hello@1.0.0"');
  expect((await readdir(`${storeDir}/hello/1.0.0`)).sort()).toEqual(["bundle.mjs", "entry.json"]);
  const ran = await cli("plugin", "run", `${dir}/dist/hello-1.0.0.mjs`, "--action", "greet", "--input", "name=Ada", "--input-json", '{"times":2}');
  expect([ran.code, JSON.parse(ran.stdout).greeting]).toEqual([0, "Hello, Ada! Hello, Ada!"]);
  expect(ran.stderr).toContain("step greet (Greet): succeeded");
  const failed = await cli("plugin", "run", `${dir}/dist/hello-1.0.0.mjs`, "--action", "greet", "--input", "times=99");
  expect(failed.code).toBe(1);
  expect(failed.stderr).toContain('input "times" must be an integer from 1 to 10');
  const denied = await cli("plugin", "publish", `${dir}/dist/hello-1.0.0.mjs`, "--controller-url", server.url, "--admin-token", "wrong");
  expect(denied.code).toBe(1);
  expect(denied.stderr).toContain("unauthorized");
}, 60_000);

test("keygen refuses an unknown option with a usage error", async () => {
  const result = await cli("keygen", "--bogus");
  expect(result.code).toBe(64);
  expect(result.stderr).toContain("--bogus");
});
