// `run` in the executable is compiled from its own pre-bundled copy (scripts/run-world.ts), so a
// runner's start loads a couple of chunks of its code instead of the ~27 that Bun's splitting
// cut its closure into (docs/performance.md, start-up, fourth pass). This builds the executable's
// module graph the way scripts/build.ts does (without compiling) and checks that `run` loads few
// chunks, that the entry's modules stay one copy (class identity, the process redaction scope),
// and that the backends `run` imports lazily stay out of its start.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { buildRunWorld, runWorldRedirect } from "../../scripts/run-world.ts";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
// Inside the repository: the world's bare imports (packages) resolve from where it is written.
mkdirSync(path.join(root, "dist"), { recursive: true });
const dir = mkdtempSync(path.join(root, "dist", "test-run-world-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Outputs = Record<string, { imports: { path: string; kind: string; external?: boolean }[]; entryPoint?: string; inputs?: Record<string, unknown> }>;

/** The output files loaded (statically) when `from` is imported. */
function chunkClosure(outputs: Outputs, from: string): string[] {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file) || outputs[file] === undefined) continue;
    seen.add(file);
    for (const edge of outputs[file].imports) if (edge.kind === "import-statement" && edge.external !== true) stack.push(edge.path);
  }
  return [...seen];
}

const BACKENDS = /node_modules\/(@aws-sdk|node-vault)\/|src\/storage\/s3-store\.ts$|vault-backend\.ts$|gcp-backend\.ts$|src\/plugins\/builtin\/(shell|terraform|github-workflow|gitlab-pipeline|azure-devops-pipeline|manual)\/(?!schema\.ts$)/;

describe("the run command in the executable", async () => {
  const world = await buildRunWorld(root, path.join(dir, "run-world"));
  const outputs = world.metafile.outputs as Outputs;
  const entry = Object.keys(outputs).find((file) => outputs[file]?.entryPoint?.endsWith("src/cli/run-command.ts")) as string;
  const atStart = chunkClosure(outputs, entry);
  const bundledAtStart = new Set(atStart.flatMap((file) => Object.keys(outputs[file]?.inputs ?? {})));

  test("its pre-bundled copy puts `run`'s whole static closure in one chunk beside its entry", () => {
    expect(atStart.length).toBeLessThanOrEqual(2);
    expect(bundledAtStart.has("src/cli/runner-service.ts")).toBe(true);
    expect(bundledAtStart.has("src/controller/edge/edge-connection.ts")).toBe(true);
  });

  test("the entry's modules are not copied into it (one ConfigError class, one process redaction scope)", () => {
    const bundled = new Set(Object.values(outputs).flatMap((o) => Object.keys(o.inputs ?? {})));
    for (const shared of ["src/config/resolve.ts", "src/errors.ts", "src/log/redact.ts", "src/secrets/redaction/redaction-scope.ts", "src/version.ts"]) {
      expect({ shared, bundled: bundled.has(shared) }).toEqual({ shared, bundled: false });
    }
    expect(atStart.some((file) => outputs[file]?.imports.some((edge) => edge.external === true && edge.path.endsWith("src/errors.ts")))).toBe(true);
  });

  test("the backends `run` imports lazily are in it, and not loaded at start", () => {
    const lazy = Object.keys(world.metafile.inputs).filter((file) => BACKENDS.test(file));
    expect(lazy.some((file) => file.endsWith("src/storage/s3-store.ts"))).toBe(true);
    expect(lazy.some((file) => file.endsWith("vault-backend.ts"))).toBe(true);
    expect([...bundledAtStart].filter((file) => BACKENDS.test(file))).toEqual([]);
    // Packages but hono stay bare imports: Bun resolves them once for the whole executable.
    expect([...bundledAtStart].filter((file) => file.includes("node_modules/") && !file.includes("node_modules/hono/"))).toEqual([]);
  });

  test("a lazily imported module keeps its default export (the built-in plugins are imported that way)", () => {
    const echo = Object.values(outputs).find((o) => o.entryPoint?.endsWith("src/plugins/builtin/echo/plugin.ts")) as { exports?: string[] } | undefined;
    expect(echo?.exports).toContain("default");
  });

  test("compiled the way scripts/build.ts compiles, `run` loads at most two chunks beyond what `--version` loads", async () => {
    const result = await Bun.build({
      entrypoints: [`${root}/src/main.ts`, `${root}/src/plugins/worker-entry.ts`],
      outdir: path.join(dir, "out"),
      splitting: true,
      format: "esm",
      target: "bun",
      metafile: true,
      plugins: [runWorldRedirect(root, world)],
    });
    expect(result.success).toBe(true);
    const built = (result.metafile as { outputs: Outputs }).outputs;
    const find = (suffix: string) => Object.keys(built).find((file) => built[file]?.entryPoint?.endsWith(suffix)) as string;
    const main = new Set(chunkClosure(built, find("src/main.ts")));
    // The command table's import("./run-command.ts") reaches the pre-bundled copy, not the source.
    const runEntry = find("run-command.js");
    expect(runEntry).toBeDefined();
    expect(find("src/cli/run-command.ts")).toBeUndefined();
    const run = chunkClosure(built, runEntry).filter((file) => !main.has(file));
    // Without the pre-bundled copy (Bun's splitting of the source alone) this is 27 chunks.
    expect(run.length).toBeLessThanOrEqual(2);
  });
});
