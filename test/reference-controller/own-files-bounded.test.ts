// The reference controller's own small files (its lock, the callback key, tlsCertFile) are read
// bounded: an 8 GiB file is refused by its size, never read whole.

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readConfigText } from "../../src/config/read-config-text.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { CallbackTokens } from "../../src/reference-controller/callback-tokens.ts";
import { ControllerLock } from "../../src/reference-controller/controller-lock.ts";
import { controllerOptionsFromConfig } from "../../src/reference-controller/server-config.ts";
import { tempDir } from "../helpers/harness.ts";
import { GIB8, hugeFile } from "../helpers/huge-files.ts";

const tmp = tempDir("rc-own-files-");
afterAll(tmp.remove);


test("ControllerLock.acquire() takes over an 8 GiB lock file (not a pid this controller wrote) without reading it", () => {
  const file = hugeFile(tmp.dir, "controller.lock");
  const lock = ControllerLock.acquire(file);
  expect(readFileSync(file, "utf8")).toBe(String(process.pid));
  lock.release();
});

test("CallbackTokens.inDir() refuses an 8 GiB callback.key: config_invalid naming it, its size and the cap", () => {
  const dir = join(tmp.dir, "callback");
  mkdirSync(dir);
  writeFileSync(join(dir, "callback.key"), "");
  truncateSync(join(dir, "callback.key"), GIB8);
  expect(() => CallbackTokens.inDir(dir)).toThrow(`Cannot use the callback key file "${join(dir, "callback.key")}": The file "${join(dir, "callback.key")}" is ${GIB8} bytes, over the cap of 4096 bytes for it; not read`);
});

test("controllerOptionsFromConfig() refuses an 8 GiB tlsCertFile: config_invalid on tlsCertFile", () => {
  const cert = hugeFile(tmp.dir, "cert.pem");
  const key = join(tmp.dir, "key.pem");
  writeFileSync(key, "-----BEGIN PRIVATE KEY-----\n", { mode: 0o600 });
  const { config } = resolveConfig({ scopes: ["controller"], argv: ["--tls-cert-file", cert, "--tls-key-file", key, "--data-dir", tmp.dir], env: {}, readFile: readConfigText });
  expect(() => controllerOptionsFromConfig(config, memoryLogger().logger)).toThrow(`Cannot read "tlsCertFile" "${cert}": The file "${cert}" is ${GIB8} bytes, over the cap of 1048576 bytes for it; not read`);
});
