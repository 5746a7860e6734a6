// A runner on the local backend must never load the S3 SDK: it is reachable from the run command (src/cli/run-command.ts) only
// through a dynamic import() (open-store.ts). This walks the static (value) imports from the
// entry point (test/helpers/import-graph.ts) and fails if @aws-sdk/* or the S3 backend is among them.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { metafileOf, staticClosure } from "../helpers/import-graph.ts";

const root = resolve(import.meta.dir, "../..");

test("the S3 backend and @aws-sdk are only reachable from the run command through a dynamic import", async () => {
  const entry = "src/cli/run-command.ts";
  const graph = [...staticClosure(await metafileOf(entry), entry)];
  expect(graph.filter((m) => m.includes("node_modules/@aws-sdk/") || m.endsWith("/s3-store.ts") || m.endsWith("/multipart.ts"))).toEqual([]);
  // The walk itself works: the local backend is statically reachable.
  expect(graph.some((m) => m.endsWith("src/storage/local-store.ts"))).toBe(true);
});

test("open-store.ts loads the S3 backend with import()", () => {
  const text = readFileSync(resolve(root, "src/storage/open-store.ts"), "utf8");
  expect(text).toContain('await import("./s3-store.ts")');
});
