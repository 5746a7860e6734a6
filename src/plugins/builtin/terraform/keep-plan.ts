// keepPlan: the plan file as the job's artifact `tfplan`, streamed from the file to ctx.artifacts
// a chunk at a time (a plan can be hundreds of MiB, and the runner may run several jobs at once).
// Its size is checked against PLAN_KEEP_MAX and the runner's artifactMaxBytes (ctx.artifacts.maxBytes)
// before anything is read, and the stream stops one chunk past them, so a huge plan (or one still
// growing) never fills the runner's memory or starts an upload bound to fail.

import { open } from "node:fs/promises";
import { EdgeError } from "../../../errors.ts";
import type { ActionContext, ArtifactInfo } from "../../sdk.ts";

/** The largest plan kept: 1 GiB. The runner's artifactMaxBytes (default 100 MiB, ctx.artifacts.maxBytes) applies too. */
export const PLAN_KEEP_MAX = 1024 ** 3;
/** Bytes per read, the same as one host write call (context-storage.ts), so a chunk is never re-cut. */
const READ_BYTES = 1024 * 1024;
const NAME = "tfplan";
const REFUSED = `Cannot keep the plan as artifact "${NAME}": `;

/**
 * Streams `file` to ctx.artifacts as "tfplan"; rejects with `storage_limit` over `maxBytes` or
 * ctx.artifacts.maxBytes (by the file's size, before reading it), `job_cancelled` on cancel.
 */
export async function keepPlan(file: string, ctx: Pick<ActionContext, "artifacts" | "signal">, maxBytes = PLAN_KEEP_MAX): Promise<ArtifactInfo> {
  const handle = await open(file, "r");
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await handle.close().catch(() => undefined);
  };
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) throw tooLarge(`is ${size} bytes`, `the limit of ${maxBytes} bytes`);
    const artifactMaxBytes = ctx.artifacts.maxBytes;
    if (size > artifactMaxBytes) throw tooLarge(`is ${size} bytes`, `the runner's artifactMaxBytes of ${artifactMaxBytes} bytes`);
    const limit = Math.min(maxBytes, artifactMaxBytes);
    let position = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (ctx.signal.aborted) throw new EdgeError("job_cancelled", `Cannot keep the plan as artifact "${NAME}": the job was cancelled`);
        // A fresh buffer per chunk: the consumer may keep the one it was given.
        const buffer = new Uint8Array(READ_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, READ_BYTES, position);
        if (bytesRead === 0) {
          await close();
          controller.close();
          return;
        }
        position += bytesRead;
        // The file grew since stat() (terraform still writing, or something else): stop, do not follow it.
        if (position > limit) throw tooLarge(`grew to at least ${position} bytes while it was read`, limit === maxBytes ? `the limit of ${maxBytes} bytes` : `the runner's artifactMaxBytes of ${limit} bytes`);
        controller.enqueue(buffer.subarray(0, bytesRead));
      },
      cancel: close,
    }, { highWaterMark: 0 });
    try {
      return await ctx.artifacts.put(NAME, body, { contentType: "application/octet-stream" });
    } catch (error) {
      // The sink may still stop the stream with `storage_limit` (a limit below the one it told,
      // or its count of artifacts), and its message names only its own limit: say how big the
      // plan is (fstat, before the read). In a worker the host's error arrives as an Error with
      // its code (classes do not cross).
      const { code, message } = error as { code?: unknown; message?: unknown };
      if (code === "storage_limit" && typeof message === "string" && !message.startsWith(REFUSED)) {
        throw new EdgeError("storage_limit", `${REFUSED}the plan file is ${size} bytes: ${message}`);
      }
      throw error;
    }
  } finally {
    await close();
  }
}

function tooLarge(what: string, limit: string): EdgeError {
  return new EdgeError("storage_limit", `${REFUSED}the plan file ${what}, over ${limit}`);
}
