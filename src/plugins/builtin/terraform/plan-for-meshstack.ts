// A DETECT run's plan file for meshStack, which takes it back as `artifact` (base64) with the
// result. A job's output is capped at 1 MiB, so a plan over 512 KiB (base64 well below the cap)
// is not sent; it is read through the one bounded reader (src/util/read-file-bounded.ts), so a
// huge plan (or one still growing) is refused by its size and never fills the runner's memory.

import { FileTooLargeError, readFileBounded } from "../../../util/read-file-bounded.ts";

export const PLAN_IN_OUTPUT_MAX = 512 * 1024;

/** The plan as base64, or its size when it is over `maxBytes` (then it is not read). */
export async function readPlanForMeshstack(file: string, maxBytes = PLAN_IN_OUTPUT_MAX): Promise<{ plan: string } | { size: number }> {
  try {
    return { plan: Buffer.from(await readFileBounded(file, maxBytes)).toString("base64") };
  } catch (error) {
    if (error instanceof FileTooLargeError) return { size: error.size };
    throw error;
  }
}
