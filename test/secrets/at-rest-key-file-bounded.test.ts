// Key and secret files (at-rest keys, the runner key, configured secrets) are read bounded: one far
// over its cap (an 8 GiB sparse file) stops the start with config_invalid naming the file, its
// size and the cap, instead of being read whole.

import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { readSecretFile } from "../../src/config/secret-file.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { AtRestKeyRing } from "../../src/secrets/at-rest-ring.ts";
import { readPrivateKeyFile } from "../../src/secrets/runner-keys.ts";
import { tempDir } from "../helpers/harness.ts";
import { GIB8, hugeFile, thrown } from "../helpers/huge-files.ts";

const tmp = tempDir("at-rest-key-bounded-");
afterAll(tmp.remove);



test("AtRestCipher.fromKeyFile() refuses an 8 GiB key file by its size: config_invalid naming whose key file, its size and the 4 KiB cap", () => {
  const file = hugeFile(tmp.dir, "outbox.key");
  const error = thrown(() => AtRestCipher.fromKeyFile(file, "meshStack outbox"));
  expect(error.code).toBe("config_invalid");
  expect(error.message).toBe(`Cannot use meshStack outbox key file "${file}": The file "${file}" is ${GIB8} bytes, over the cap of 4096 bytes for it; not read`);
});

test("AtRestKeyRing.load() refuses an 8 GiB retained key beside the current one the same way", () => {
  const current = join(tmp.dir, "results.key");
  AtRestCipher.fromKeyFile(current, "result spool");
  const retained = hugeFile(tmp.dir, "results.0123456789abcdef.key");
  const error = thrown(() => AtRestKeyRing.load(current, "result spool"));
  expect({ code: error.code, message: error.message }).toEqual({ code: "config_invalid", message: `Cannot use result spool key file "${retained}": The file "${retained}" is ${GIB8} bytes, over the cap of 4096 bytes for it; not read` });
});

test("readSecretFile() refuses an 8 GiB secret file: config_invalid naming the field, the file, its size and the 64 KiB cap", () => {
  const file = hugeFile(tmp.dir, "api-key");
  const error = thrown(() => readSecretFile(file, "apiKeyFile"));
  expect({ code: error.code, field: error.field }).toEqual({ code: "config_invalid", field: "apiKeyFile" });
  expect(error.message).toBe(`Cannot read "apiKeyFile" file "${file}": The file "${file}" is ${GIB8} bytes, over the cap of 65536 bytes for it; not read`);
});

test("readPrivateKeyFile() refuses an 8 GiB runner key file: config_invalid naming it, its size and the 64 KiB cap", async () => {
  const file = hugeFile(tmp.dir, "runner-key.pem");
  const error = (await readPrivateKeyFile(file).catch((e: unknown) => e)) as { code?: unknown; message: string };
  expect({ code: error.code, message: error.message }).toEqual({ code: "config_invalid", message: `Cannot read private key "${file}": The file "${file}" is ${GIB8} bytes, over the cap of 65536 bytes for it; not read` });
});
