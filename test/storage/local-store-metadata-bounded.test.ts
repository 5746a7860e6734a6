// The local store's `.m` file (an object's content type and metadata) is read with a 64 KiB cap:
// an 8 GiB one is storage_failed naming its size, not read whole.

import { afterAll, expect, test } from "bun:test";
import { readdirSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import { tempDir } from "../helpers/harness.ts";

const tmp = tempDir("local-store-meta-");
afterAll(tmp.remove);

test("LocalObjectStore.head() refuses an 8 GiB metadata file by its size: storage_failed naming the key, the file, its size and the cap", async () => {
  const store = new LocalObjectStore(tmp.dir);
  await store.put("obj", new TextEncoder().encode("body"), { contentType: "text/plain", metadata: { a: "b" } });
  expect((await store.head("obj"))?.contentType).toBe("text/plain");
  const meta = readdirSync(tmp.dir).find((name) => name.endsWith(".m"));
  expect(meta).toBeDefined();
  const file = join(tmp.dir, meta!);
  truncateSync(file, 8 * 1024 ** 3);
  const error = (await store.head("obj").catch((e: unknown) => e)) as { code?: unknown; message: string };
  expect({ code: error.code, message: error.message }).toEqual({ code: "storage_failed", message: `Cannot read the metadata of "obj": The file "${file}" is ${8 * 1024 ** 3} bytes, over the cap of 65536 bytes for it; not read` });
});
