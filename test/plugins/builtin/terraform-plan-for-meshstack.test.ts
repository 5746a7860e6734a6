// The DETECT plan that goes back to meshStack in the job's output (plan-for-meshstack.ts): at most
// 512 KiB, and a larger plan file is never read into memory.

import { afterEach, expect, test } from "bun:test";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PLAN_IN_OUTPUT_MAX, readPlanForMeshstack } from "../../../src/plugins/builtin/terraform/plan-for-meshstack.ts";
import { tempDir } from "../../helpers/harness.ts";

const dirs: Array<{ remove(): void | Promise<void> }> = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});

function planFile(): string {
  const t = tempDir("tf-plan-");
  dirs.push(t);
  return join(t.dir, "tfplan");
}

test("readPlanForMeshstack() gives a plan of up to 512 KiB as base64 and only the size of a larger one", async () => {
  const file = planFile();
  const plan = Buffer.alloc(PLAN_IN_OUTPUT_MAX, 7);
  writeFileSync(file, plan);
  expect(await readPlanForMeshstack(file)).toEqual({ plan: plan.toString("base64") });
  writeFileSync(file, Buffer.alloc(PLAN_IN_OUTPUT_MAX + 1, 7));
  expect(await readPlanForMeshstack(file)).toEqual({ size: PLAN_IN_OUTPUT_MAX + 1 });
});

test("readPlanForMeshstack() does not read a plan over the cap: a 64 GiB (sparse) plan file is refused at once by its size", async () => {
  // Read whole first, this fails (no memory for 64 GiB) or takes the machine's memory.
  const file = planFile();
  writeFileSync(file, "");
  truncateSync(file, 64 * 1024 ** 3);
  expect(await readPlanForMeshstack(file)).toEqual({ size: 64 * 1024 ** 3 });
});
