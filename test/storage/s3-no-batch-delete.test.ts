// A store without the multi-object delete (DeleteObjects, POST ?delete) refuses it as not
// implemented: Google Cloud Storage's XML API with <Code>NotImplemented</Code> and HTTP 400, other
// stores with HTTP 501. deletePrefix() failed there at every try, so an attempt's prefix was never
// deleted, by its cleanup or by the sweeper. It now deletes one key per DeleteObject request, a
// few at a time, and sends that store no DeleteObjects again.

import { afterEach, expect, test } from "bun:test";
import { EdgeError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { contents, prefixes, scriptedS3, type ScriptedS3, type ScriptedS3Options } from "../helpers/scripted-s3.ts";

const KEYS = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, "0")}`);
/** Twenty objects under every attempt prefix listed. */
const twentyObjects = ({ prefix }: { prefix: string }): string => KEYS.map((k) => contents(`${prefix}${k}`)).join("");
const s3Error = (status: number, code: string): Response =>
  new Response(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} answered by the test</Message></Error>`, { status, headers: { "content-type": "application/xml" } });
/** Google Cloud Storage's answer (github.com/nextcloud/server/issues/53658, minio/mc#4778). */
const gcsRefusal = (): Response => s3Error(400, "NotImplemented");
const notImplemented = (): Response => s3Error(501, "NotImplemented");

const servers: ScriptedS3[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});
function serve(options: Omit<ScriptedS3Options, "list"> & Partial<Pick<ScriptedS3Options, "list">>): ScriptedS3 {
  const server = scriptedS3({ list: twentyObjects, ...options });
  servers.push(server);
  return server;
}

test("deletePrefix() on a store answering 501 NotImplemented to DeleteObjects deletes each key with DeleteObject, at most 4 at once", async () => {
  const s3 = serve({
    deleteBatch: notImplemented,
    deleteOne: () => Bun.sleep(5).then(() => undefined),
  });
  const store = s3.store();
  expect(await store.deletePrefix("r/j/1/")).toBe(20);
  expect(s3.deletedOneByOne.sort()).toEqual(KEYS.map((k) => `runs/r/j/1/${k}`));
  expect(s3.deleted).toEqual([]);
  expect(s3.mostOneByOneAtOnce()).toBe(4);
  await store.close();
});

test("deletePrefix() remembers per store that DeleteObjects is not implemented: the next deletion sends none", async () => {
  const s3 = serve({ deleteBatch: notImplemented });
  const store = s3.store();
  await store.deletePrefix("r/j/1/");
  await store.deletePrefix("r/j/2/");
  expect(s3.batchRequests()).toBe(1);
  expect(s3.deletedOneByOne.length).toBe(40);
  // Another store (a restarted runner) asks again: the store may have gained it.
  const other = s3.store();
  await other.deletePrefix("r/j/3/");
  expect(s3.batchRequests()).toBe(2);
  await Promise.all([store.close(), other.close()]);
});

test("deletePrefix() falls back on Google Cloud Storage's answer, NotImplemented with HTTP 400, and on HTTP 405", async () => {
  for (const refusal of [gcsRefusal, () => s3Error(405, "MethodNotAllowed")]) {
    const s3 = serve({ deleteBatch: refusal });
    const store = s3.store();
    expect(await store.deletePrefix("r/j/1/")).toBe(20);
    expect(s3.deletedOneByOne.length).toBe(20);
    await store.close();
  }
});

test("deletePrefix() does not fall back when DeleteObjects is denied: the deletion fails and nothing is deleted", async () => {
  const s3 = serve({ deleteBatch: () => s3Error(403, "AccessDenied") });
  const store = s3.store();
  const failure = await store.deletePrefix("r/j/1/").catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(EdgeError);
  expect((failure as EdgeError).code).toBe("storage_failed");
  expect((failure as EdgeError).message).toContain("AccessDenied");
  expect(s3.deletedOneByOne).toEqual([]);
  await store.deletePrefix("r/j/1/").catch(() => undefined);
  expect(s3.batchRequests()).toBe(2);
  await store.close();
});

test("deletePrefix() one by one still deletes only keys under the prefix: a listed key outside it is refused before any request", async () => {
  const s3 = serve({ deleteBatch: notImplemented });
  const store = s3.store();
  await store.deletePrefix("r/j/1/");
  const failure = await store.deletePrefix("r/j/2/", { listed: ["r/j/2/a", "r/other/1/b"] }).catch((error: unknown) => error);
  expect((failure as EdgeError).code).toBe("storage_failed");
  expect((failure as EdgeError).message).toContain("is not under it");
  expect(s3.deletedOneByOne.filter((k) => !k.startsWith("runs/r/j/1/"))).toEqual([]);
  await store.close();
});

test("deletePrefix() one by one: a key already gone (404, as Google Cloud Storage answers) counts as deleted; another failure fails the deletion", async () => {
  const s3 = serve({
    deleteBatch: gcsRefusal,
    deleteOne: (key) => key.endsWith("/k03") ? s3Error(404, "NoSuchKey") : key.includes("/j/2/") && key.endsWith("/k07") ? s3Error(403, "AccessDenied") : undefined,
  });
  const store = s3.store();
  expect(await store.deletePrefix("r/j/1/")).toBe(20);
  const failure = await store.deletePrefix("r/j/2/").catch((error: unknown) => error);
  expect((failure as EdgeError).code).toBe("storage_failed");
  expect((failure as EdgeError).message).toContain("AccessDenied");
  // The batch is not asked again after a failure one by one.
  expect(s3.batchRequests()).toBe(1);
  await store.close();
});

test("deletePrefix() on a store with DeleteObjects still uses it", async () => {
  const s3 = serve({});
  const store = s3.store();
  expect(await store.deletePrefix("r/j/1/")).toBe(20);
  expect(s3.deleted.length).toBe(20);
  expect(s3.deletedOneByOne).toEqual([]);
  await store.close();
});

test("StorageService.sweep() on a store without DeleteObjects deletes an old orphan's objects one by one", async () => {
  const children: Record<string, string> = { "runs/r/": prefixes("runs/r/old/"), "runs/r/old/": prefixes("runs/r/old/1/") };
  const s3 = serve({
    deleteBatch: gcsRefusal,
    list: (request) => request.delimited ? children[request.prefix] ?? "" : twentyObjects(request),
  });
  const svc = new StorageService({ store: s3.store(), runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 3_600_000, sweepIntervalMs: 0, retries: 0 });
  expect(await svc.sweep()).toMatchObject({ deleted: 1, failed: 0 });
  expect(s3.deletedOneByOne.sort()).toEqual(KEYS.map((k) => `runs/r/old/1/${k}`));
  await svc.close();
});

test("deletePrefix() one by one stops at its signal: no new DeleteObject is sent and those open are given up", async () => {
  let release = (): void => undefined;
  const held = new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
  let asked = 0;
  const s3 = serve({ deleteBatch: notImplemented, deleteOne: () => (asked++, held) });
  const store = s3.store();
  const stop = new AbortController();
  const deletion = store.deletePrefix("r/j/1/", { signal: stop.signal }).catch((error: unknown) => error);
  while (asked < 4) await Bun.sleep(2);
  stop.abort();
  const failure = await deletion;
  expect((failure as Error).name).toBe("AbortError");
  release();
  await Bun.sleep(20);
  expect(asked).toBe(4);
  await store.close();
});
