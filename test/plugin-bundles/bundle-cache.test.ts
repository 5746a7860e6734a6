import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { readdir, stat, writeFile, chmod, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { BundleCache } from "../../src/plugin-bundles/bundle-cache.ts";
import { bundleBytes, codeOf, manifestFor, tempDir } from "./fixtures.ts";

test("BundleCache.store() writes a read-only, content-addressed file and leaves no temp file", async () => {
  const root = await tempDir();
  const cache = new BundleCache({ dir: root });
  const bytes = bundleBytes("hello", "1.0.0");
  const manifest = manifestFor("hello", "1.0.0", bytes);
  const path = await cache.store(manifest, bytes);
  expect(path).toMatch(/\/sha256\/[0-9a-f]{64}\.mjs$/);
  expect((await stat(path)).mode & 0o777).toBe(0o444);
  expect(await readdir(`${root}/sha256`)).toEqual([path.split("/").pop() as string]);
  expect(await cache.load(manifest)).toEqual(bytes);
});

test("BundleCache.store() refuses bytes that do not match the digest", async () => {
  const cache = new BundleCache({ dir: await tempDir() });
  const bytes = bundleBytes("hello", "1.0.0");
  expect(await codeOf(() => cache.store(manifestFor("hello", "1.0.0", bytes), bundleBytes("hello", "1.0.1")))).toBe("bundle_digest_mismatch");
});

test("BundleCache.load() deletes a corrupted file and reports bundle_cache_corrupt", async () => {
  const cache = new BundleCache({ dir: await tempDir() });
  const bytes = bundleBytes("hello", "1.0.0");
  const manifest = manifestFor("hello", "1.0.0", bytes);
  const path = await cache.store(manifest, bytes);
  await chmod(path, 0o644);
  await writeFile(path, bytes.subarray(0, bytes.byteLength - 1));
  expect(await codeOf(() => cache.load(manifest))).toBe("bundle_cache_corrupt");
  expect(await cache.load(manifest)).toBeUndefined();
});

test("BundleCache.load() refuses a cached file past the signed size (an 8 GiB sparse file) by its size, deletes it, and reports bundle_cache_corrupt", async () => {
  const cache = new BundleCache({ dir: await tempDir() });
  const bytes = bundleBytes("hello", "1.0.0");
  const manifest = manifestFor("hello", "1.0.0", bytes);
  const path = await cache.store(manifest, bytes);
  await chmod(path, 0o644);
  await truncate(path, 8 * 1024 ** 3);
  const error = (await cache.load(manifest).catch((e: unknown) => e)) as { code?: unknown; message: string };
  expect(error.code).toBe("bundle_cache_corrupt");
  expect(error.message).toContain(`cached file "${path}" is ${8 * 1024 ** 3} bytes, not the ${manifest.size} signed; deleted it`);
  expect(await cache.load(manifest)).toBeUndefined();
});

test("BundleCache.load() refuses a FIFO at the cache path without blocking, deletes it, and reports bundle_cache_corrupt", async () => {
  const cache = new BundleCache({ dir: await tempDir() });
  const bytes = bundleBytes("hello", "1.0.0");
  const manifest = manifestFor("hello", "1.0.0", bytes);
  const path = cache.pathFor(manifest.digest);
  mkdirSync(dirname(path), { recursive: true });
  execFileSync("mkfifo", [path]);
  const outcome = await Promise.race([
    cache.load(manifest).then(() => "returned", (e: { code?: string; retryable?: boolean }) => `${e.code} retryable=${e.retryable}`),
    new Promise((r) => setTimeout(r, 3000)).then(() => "still blocked after 3 s"),
  ]);
  expect(outcome).toBe("bundle_cache_corrupt retryable=true");
  expect(existsSync(path)).toBe(false);
  // The fetcher downloads it once more; store() then puts the real file there.
  await cache.store(manifest, bytes);
  expect(await cache.load(manifest)).toEqual(bytes);
}, 10_000);

test("BundleCache.load() refuses a symlink at the cache path (only the runner writes there), deletes the link and not its target", async () => {
  const root = await tempDir();
  const cache = new BundleCache({ dir: root });
  const bytes = bundleBytes("hello", "1.0.0");
  const manifest = manifestFor("hello", "1.0.0", bytes);
  const target = `${root}/elsewhere.mjs`;
  await writeFile(target, bytes);
  const path = cache.pathFor(manifest.digest);
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
  expect(await codeOf(() => cache.load(manifest))).toBe("bundle_cache_corrupt");
  expect(existsSync(path)).toBe(false);
  expect(existsSync(target)).toBe(true);
});
