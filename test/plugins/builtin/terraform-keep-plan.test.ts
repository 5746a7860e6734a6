// keepPlan (keep-plan.ts): the plan file streams to ctx.artifacts in chunks, never read whole; a
// plan over the cap is refused by its size before a byte is read, and one that grows past it stops.

import { afterEach, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keepPlan, PLAN_KEEP_MAX } from "../../../src/plugins/builtin/terraform/keep-plan.ts";
import type { ActionContext, ArtifactInfo, StorageData } from "../../../src/plugins/sdk.ts";
import { tempDir } from "../../helpers/harness.ts";
import { hugeFile } from "../../helpers/huge-files.ts";

const keepPlanModule = new URL("../../../src/plugins/builtin/terraform/keep-plan.ts", import.meta.url).pathname;
const dirs: Array<{ remove(): void | Promise<void> }> = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});

function planFile(): string {
  const t = tempDir("tf-keep-plan-");
  dirs.push(t);
  return join(t.dir, "tfplan");
}

/**
 * A ctx.artifacts that takes only a stream, reads it chunk by chunk and keeps what it saw; it
 * tells `maxBytes` (by default 5 GiB, the largest artifactMaxBytes) and does not enforce it.
 */
function streamingSink(onChunk: (chunk: Uint8Array) => void = () => undefined, maxBytes = 5 * 1024 ** 3) {
  const seen = { calls: 0, chunks: [] as Uint8Array[], largest: 0 };
  const ctx: Pick<ActionContext, "artifacts" | "signal"> = {
    signal: new AbortController().signal,
    artifacts: {
      maxBytes,
      async put(name: string, data: StorageData): Promise<ArtifactInfo> {
        seen.calls++;
        if (!(data instanceof ReadableStream)) throw new TypeError(`Expected a stream for "${name}", got ${data.constructor.name} of ${(data as Uint8Array).length}`);
        const hash = createHash("sha256");
        let size = 0;
        for await (const chunk of data as unknown as AsyncIterable<Uint8Array>) {
          seen.chunks.push(chunk);
          seen.largest = Math.max(seen.largest, chunk.byteLength);
          size += chunk.byteLength;
          hash.update(chunk);
          onChunk(chunk);
        }
        return { name, size, sha256: hash.digest("hex") };
      },
    },
  };
  return { ctx, seen };
}

test("keepPlan() streams a plan to ctx.artifacts in chunks of at most 1 MiB, arriving byte for byte", async () => {
  const file = planFile();
  const plan = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(file, plan);
  const { ctx, seen } = streamingSink();
  const info = await keepPlan(file, ctx);
  expect(info).toEqual({ name: "tfplan", size: plan.byteLength, sha256: createHash("sha256").update(plan).digest("hex") });
  expect(seen.largest).toBeLessThanOrEqual(1024 * 1024);
  expect(Buffer.concat(seen.chunks).equals(plan)).toBe(true);
});

test("keepPlan() refuses a 64 GiB (sparse) plan file by its size, naming the size and the 1 GiB cap, without reading it", async () => {
  const file = planFile();
  writeFileSync(file, "");
  truncateSync(file, 64 * 1024 ** 3);
  const { ctx, seen } = streamingSink();
  const refused = await keepPlan(file, ctx).then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused?.code).toBe("storage_limit");
  expect(refused?.message).toBe(`Cannot keep the plan as artifact "tfplan": the plan file is ${64 * 1024 ** 3} bytes, over the limit of ${PLAN_KEEP_MAX} bytes`);
  expect(PLAN_KEEP_MAX).toBe(1024 ** 3);
  expect(seen.calls).toBe(0);
});

test("keepPlan() refuses a 512 MiB (sparse) plan over ctx.artifacts.maxBytes by its size, naming both, before it reads or uploads a byte", async () => {
  const t = tempDir("tf-keep-plan-");
  dirs.push(t);
  const size = 512 * 1024 * 1024;
  const file = hugeFile(t.dir, "tfplan", size);
  const artifactMaxBytes = 100 * 1024 * 1024;
  const { ctx, seen } = streamingSink(undefined, artifactMaxBytes);
  const refused = await keepPlan(file, ctx).then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused?.code).toBe("storage_limit");
  expect(refused?.message).toBe(`Cannot keep the plan as artifact "tfplan": the plan file is ${size} bytes, over the runner's artifactMaxBytes of ${artifactMaxBytes} bytes`);
  // No upload was started, so no stream was pulled: not one byte of the file was read.
  expect(seen).toEqual({ calls: 0, chunks: [], largest: 0 });
});

test("keepPlan() stops a plan file that grows past ctx.artifacts.maxBytes while it streams", async () => {
  const file = planFile();
  writeFileSync(file, Buffer.alloc(1024 * 1024 + 1, 1));
  const { ctx } = streamingSink(() => appendFileSync(file, Buffer.alloc(2 * 1024 * 1024, 2)), 2 * 1024 * 1024);
  const refused = await keepPlan(file, ctx).then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused?.code).toBe("storage_limit");
  expect(refused?.message).toContain(`over the runner's artifactMaxBytes of ${2 * 1024 * 1024} bytes`);
});

test("keepPlan() stops a plan file that grows past the cap while it streams", async () => {
  const file = planFile();
  writeFileSync(file, Buffer.alloc(1024 * 1024 + 1, 1));
  // The first chunk has been read when the file grows: the stat() before said it was under the cap.
  const { ctx } = streamingSink(() => appendFileSync(file, Buffer.alloc(2 * 1024 * 1024, 2)));
  const refused = await keepPlan(file, ctx, 2 * 1024 * 1024).then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused?.code).toBe("storage_limit");
  expect(refused?.message).toContain(`over the limit of ${2 * 1024 * 1024} bytes`);
});

test("keepPlan() stops reading when the job is cancelled", async () => {
  const file = planFile();
  writeFileSync(file, Buffer.alloc(4 * 1024 * 1024, 3));
  const abort = new AbortController();
  const { ctx, seen } = streamingSink(() => abort.abort());
  const refused = await keepPlan(file, { ...ctx, signal: abort.signal }).then(() => undefined, (error: unknown) => error as { code?: string });
  expect(refused?.code).toBe("job_cancelled");
  expect(seen.chunks.length).toBe(1);
});

test("keepPlan() streams a 900 MiB (sparse) plan in a process limited to 1 GB of address space (ulimit -v)", async () => {
  // Read whole first, the plan alone would not fit: the child fails with an out-of-memory error.
  const file = planFile();
  writeFileSync(file, "");
  truncateSync(file, 900 * 1024 * 1024);
  const script = `
    const { keepPlan } = await import(${JSON.stringify(keepPlanModule)});
    let size = 0;
    const artifacts = { maxBytes: 1024 ** 3, async put(name, data) {
      if (!(data instanceof ReadableStream)) throw new TypeError("not a stream");
      for await (const chunk of data) size += chunk.byteLength;
      return { name, size, sha256: "" };
    } };
    const info = await keepPlan(${JSON.stringify(file)}, { artifacts, signal: new AbortController().signal });
    console.log(JSON.stringify(info));
  `;
  const child = Bun.spawn(["bash", "-c", `ulimit -v 1000000 && exec "$0" -e "$1"`, process.execPath, script], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ code, err: err.slice(-2000) }).toEqual({ code: 0, err: "" });
  expect(JSON.parse(out)).toEqual({ name: "tfplan", size: 900 * 1024 * 1024, sha256: "" });
}, 60_000);

test("keepPlan() names the plan's size when the sink stops it mid-stream with storage_limit (a limit below the one it told), beside the limit the sink names", async () => {
  const file = planFile();
  const size = 3 * 1024 * 1024 + 5;
  writeFileSync(file, Buffer.alloc(size, 4));
  const artifactMaxBytes = 2 * 1024 * 1024;
  let seen = 0;
  // As the runner's ctx.artifacts in a worker: an Error with a code (classes do not cross), at the byte past the limit.
  const { ctx } = streamingSink((chunk) => {
    seen += chunk.byteLength;
    if (seen > artifactMaxBytes) throw Object.assign(new Error(`Cannot keep artifact "tfplan": it is over the limit of ${artifactMaxBytes} bytes`), { code: "storage_limit" });
  });
  const refused = await keepPlan(file, ctx).then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused?.code).toBe("storage_limit");
  expect(refused?.message).toBe(`Cannot keep the plan as artifact "tfplan": the plan file is ${size} bytes: Cannot keep artifact "tfplan": it is over the limit of ${artifactMaxBytes} bytes`);
});
