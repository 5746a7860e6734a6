// Storage options: bad S3 settings are config errors (exit 78) naming the option, before any
// network call; the secret key file must be private; a valid set becomes the store's options.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/resolve.ts";
import { s3Options } from "../../src/storage/open-store.ts";
import { FLAVOURS, assertBuilt, runToEnd, type Flavour } from "../helpers/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "edge-storage-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(flags: string[]) {
  return resolveConfig({ argv: ["--storage-backend", "s3", ...flags], env: {}, scopes: ["runner"] }).config;
}

test("S3 options that cannot work are config errors naming the option", () => {
  expect(() => s3Options(config([]))).toThrow(expect.objectContaining({ field: "s3Bucket" }));
  expect(() => s3Options(config(["--s3-bucket", "Not_A_Bucket"]))).toThrow('Invalid value "Not_A_Bucket" for "s3Bucket"');
  expect(() => s3Options(config(["--s3-bucket", "b1b", "--s3-prefix", "/lead"]))).toThrow('for "s3Prefix"');
  expect(() => s3Options(config(["--s3-bucket", "b1b", "--s3-access-key-id", "AKIA"]))).toThrow('"s3AccessKeyId" and "s3SecretAccessKeyFile" go together');
  expect(() => s3Options(config(["--s3-bucket", "b1b", "--s3-kms-key-id", "k"]))).toThrow('needs s3Sse "aws:kms"');
  const open = join(dir, "readable-secret");
  writeFileSync(open, "s3cr3t-value", { mode: 0o644 });
  expect(() => s3Options(config(["--s3-bucket", "b1b", "--s3-access-key-id", "AKIA", "--s3-secret-access-key-file", open]))).toThrow("lets other users read it");
});

test("a valid S3 configuration becomes the store's options; without keys the AWS chain is used", () => {
  const secret = join(dir, "secret");
  writeFileSync(secret, "s3cr3t-value\n", { mode: 0o600 });
  expect(s3Options(config(["--s3-bucket", "my-bucket", "--s3-endpoint", "https://minio.example:9000", "--s3-force-path-style", "--s3-access-key-id", "AKIA", "--s3-secret-access-key-file", secret, "--s3-sse", "aws:kms", "--s3-kms-key-id", "alias/runner"]))).toEqual({
    bucket: "my-bucket", prefix: "edge-runner", region: "us-east-1", endpoint: "https://minio.example:9000", forcePathStyle: true,
    partSizeBytes: 8 * 1024 * 1024, credentials: { accessKeyId: "AKIA", secretAccessKey: "s3cr3t-value" }, sse: "aws:kms", kmsKeyId: "alias/runner",
  });
  expect(s3Options(config(["--s3-bucket", "my-bucket"])).credentials).toBeUndefined();
});

test("the executable exits 78 for storageBackend s3 without a bucket, before any network call", async () => {
  assertBuilt();
  const binary = FLAVOURS[0] as Flavour;
  const { code, output } = await runToEnd(binary, ["run", "--runner-id", "r1", "--api-key", "k-secret-123", "--controller-url", "http://127.0.0.1:9", "--data-dir", dir, "--storage-backend", "s3"]);
  expect(code).toBe(78);
  expect(output).toContain("s3Bucket");
  expect(output).not.toContain("k-secret-123");
});
