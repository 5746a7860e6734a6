// ctx.storage and ctx.artifacts through the real pool under whatever runtime runs this (the
// cross-runtime test bundles it for Node and Deno), on the local backend or an S3 endpoint.
// Prints one JSON line. Usage: storage-probe <storage-user-bundle> <local-dir | http://s3-endpoint/bucket>

import { createHash } from "node:crypto";
import { memoryLogger } from "../../../src/log/logger.ts";
import { PluginPool } from "../../../src/plugins/pool.ts";
import { fileBundleSource } from "../../../src/plugins/plugin-ref.ts";
import { LocalObjectStore } from "../../../src/storage/local-store.ts";
import type { ObjectStore } from "../../../src/storage/object-store.ts";
import { StorageService } from "../../../src/storage/storage-service.ts";

const [pluginPath, where] = process.argv.slice(2);
if (pluginPath === undefined || where === undefined) throw new Error("Usage: storage-probe <storage-user-bundle> <local-dir | http://endpoint/bucket>");

let store: ObjectStore;
if (where.startsWith("http")) {
  const url = new URL(where);
  const { createS3Store } = await import("../../../src/storage/s3-store.ts");
  store = createS3Store({ bucket: url.pathname.slice(1), prefix: "probe", region: "us-east-1", endpoint: url.origin, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, partSizeBytes: 5 * 1024 * 1024 });
} else {
  store = new LocalObjectStore(where);
}
const { logger } = memoryLogger();
const storage = new StorageService({ store, runnerId: "probe", limits: { maxObjectBytes: 64 * 1024 * 1024, maxJobBytes: 64 * 1024 * 1024 }, logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
const kept: Record<string, string> = {};
const pool = new PluginPool({
  idleMs: 60_000, cancelGraceMs: 50, logger, storage,
  resolve: (ref) => fileBundleSource(pluginPath, ref.name, "0.0.1"),
  artifacts: () => ({
    async put(upload) {
      const bytes = new Uint8Array(await new Response(upload.body).arrayBuffer());
      kept[upload.name] = createHash("sha256").update(bytes).digest("hex");
      return {};
    },
  }),
});
const run = (action: string, input: unknown) => pool.run({
  jobId: `probe-${action}`, attempt: 1, plugin: "storage-user", action, input, timeoutMs: 60_000,
  signal: new AbortController().signal, onLog: () => undefined, onStep: () => undefined,
});
const roundTrip = await run("roundTrip", { size: 11 * 1024 * 1024 + 7, chunk: 77_777 });
const artifact = await run("artifact", null);
const left: string[] = [];
for await (const info of store.list("probe/")) left.push(info.key);
await pool.close();
await storage.close();
const output = roundTrip.output as { check?: unknown; stored?: unknown } | undefined;
process.stdout.write(JSON.stringify({
  roundTrip: { status: roundTrip.status, error: roundTrip.error?.code, stored: output?.stored, check: output?.check },
  artifacts: artifact.artifacts?.map((a) => `${a.name}:${a.size}:${a.sha256 === kept[a.name]}`),
  left,
}) + "\n");
