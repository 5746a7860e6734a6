// A DETECT run's plan file for meshStack, which takes it back as `artifact` (base64) with the
// result. A job's output is capped at 1 MiB, so a plan over 512 KiB (base64 well below the cap)
// is not sent; its size is checked before anything is read, and the read itself stops past the
// cap, so a huge plan (or one still growing) never fills the runner's memory.

import { open } from "node:fs/promises";

export const PLAN_IN_OUTPUT_MAX = 512 * 1024;

/** The plan as base64, or its size when it is over `maxBytes` (then it is not read). */
export async function readPlanForMeshstack(file: string, maxBytes = PLAN_IN_OUTPUT_MAX): Promise<{ plan: string } | { size: number }> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) return { size };
    // One byte more than the cap: a file that grew since stat() is caught without reading it all.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.byteLength) {
      const { bytesRead } = await handle.read(buffer, length, buffer.byteLength - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { size: Math.max(size, length) };
    return { plan: buffer.subarray(0, length).toString("base64") };
  } finally {
    await handle.close();
  }
}
