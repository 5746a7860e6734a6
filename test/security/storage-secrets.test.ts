// Job storage keys and metadata, and artifact names, are stored and listed as given (an S3 key
// and its metadata are visible to whoever lists the bucket; an artifact's name is in the job's
// result at the controller): redaction cannot mask them without breaking them. So a key, a
// metadata value or an artifact name that holds one of the job's secrets is refused, and the
// error does not repeat it (issue 8 item 2, "storage object keys and metadata"). Failed before.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArtifactUpload } from "../../src/artifacts/artifact-sink.ts";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

const SECRET = "cnry-store-Wd3Ef5Rg7Th9";
const PLUGIN = `export default { name: "keeper", version: "1.0.0", actions: {
  async key(input, ctx) { return { size: await ctx.storage.put("cache-" + input.s, "x") }; },
  async metadata(input, ctx) { return { size: await ctx.storage.put("cache", "x", { metadata: { token: input.s } }) }; },
  async artifact(input, ctx) { return await ctx.artifacts.put("report-" + input.s + ".txt", "x"); },
  async plain(input, ctx) { await ctx.storage.put("cache", "x", { metadata: { note: "fine" } }); return await ctx.artifacts.put("report.txt", "x"); },
} };`;
const file = join(mkdtempSync(join(tmpdir(), "keeper-plugin-")), "keeper.mjs");
writeFileSync(file, PLUGIN);
const kept: string[] = [];
const { pool } = testPool({
  resolve: () => fileBundleSource(file, "keeper", "1.0.0"),
  artifacts: () => ({ put: async (upload: ArtifactUpload) => { kept.push(upload.name); for await (const _ of upload.body) void _; return {}; } }),
});
afterAll(() => pool.close());

const run = async (action: string) => {
  const scope = new RedactionScope();
  scope.add(SECRET);
  return pool.run(request("keeper", action, { input: { s: SECRET }, redaction: scope }));
};

for (const action of ["key", "metadata", "artifact"]) {
  test(`a storage ${action === "artifact" ? "artifact name" : action} holding a job's secret is refused, without repeating it`, async () => {
    const outcome = await run(action);
    expect(outcome.status).toBe("failed");
    expect(outcome.error?.message).toContain("holds a secret of this job");
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
    expect(kept.some((name) => name.includes(SECRET))).toBe(false);
  });
}

test("keys, metadata and names without a secret are kept", async () => {
  const outcome = await run("plain");
  expect(outcome.status).toBe("succeeded");
  expect(kept).toContain("report.txt");
});
