// Start-up stays close to a hello-world only if `--version` and an idle `run` never load the
// code of backends they do not use (issue 15; the HOUSE rule "lazy-load heavy backends"). The
// build (scripts/build.ts, --splitting) puts every dynamic import() in its own chunk, loaded
// only when imported, so what a command loads is the static import closure of its module. This
// reads that closure from esbuild's metafile: static imports are followed, dynamic ones are not.

import { describe, expect, test } from "bun:test";
import { build, type Metafile } from "esbuild";

const root = new URL("../..", import.meta.url).pathname;

async function metafile(entry: string): Promise<Metafile> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    metafile: true,
    outdir: "/tmp/edge-runner-lazy-modules",
    logLevel: "silent",
    define: { __EDGE_RUNNER_VERSION__: '"0"', __EDGE_RUNNER_COMMIT__: '"test"' },
  });
  return result.metafile;
}

/** Every input reachable from `entry` through static imports (import statements, require). */
function staticClosure(meta: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const edge of meta.inputs[file]?.imports ?? []) if (edge.kind !== "dynamic-import" && edge.external !== true) stack.push(edge.path);
  }
  return seen;
}

/** The runtime's built-in modules (node:…) those files import statically. */
function builtins(meta: Metafile, files: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const file of files) for (const edge of meta.inputs[file]?.imports ?? []) if (edge.kind !== "dynamic-import" && edge.external === true) out.add(edge.path.replace(/^node:/, ""));
  return out;
}

// What a runner that uses no S3, Vault, GCP or integration must not load.
const BACKENDS: Record<string, RegExp> = {
  "the AWS SDK": /node_modules\/@aws-sdk\//,
  "node-vault": /node_modules\/node-vault\//,
  "the S3 store": /src\/storage\/s3-store\.ts$/,
  "the Vault backend": /vault-backend\.ts$/,
  "the GCP backend": /gcp-backend\.ts$/,
  // An integration's schema may be loaded (input validation at submit); its implementation not.
  "an integration's implementation": /src\/plugins\/builtin\/(shell|terraform|github-workflow|gitlab-pipeline|azure-devops-pipeline|manual)\/(?!schema\.ts$)[^/]+$/,
  "the meshStack adapter": /src\/controller\/meshstack\/(?!from-config\.ts$)[^/]+$/,
};

describe("modules loaded at start-up", async () => {
  const meta = await metafile("src/main.ts");
  const all = Object.keys(meta.inputs);

  test("every backend named here exists in the executable (so the checks below can fail)", () => {
    for (const [name, pattern] of Object.entries(BACKENDS)) expect({ name, found: all.some((f) => pattern.test(f)) }).toEqual({ name, found: true });
  });

  test("`--version` loads no command module and no backend", () => {
    const loaded = [...staticClosure(meta, "src/main.ts")];
    expect(loaded.filter((f) => /src\/cli\/.+-command\.ts$/.test(f))).toEqual([]);
    for (const [name, pattern] of Object.entries(BACKENDS)) expect({ name, loaded: loaded.filter((f) => pattern.test(f)) }).toEqual({ name, loaded: [] });
    // Small enough to start like a hello-world: the entry, the command table, errors and redaction.
    expect(loaded.length).toBeLessThan(30);
    // Built-ins cost too: node:worker_threads alone adds ~5 ms and ~6 MiB to a Bun start.
    expect([...builtins(meta, loaded)].filter((m) => ["worker_threads", "http", "https", "net", "tls", "child_process", "crypto", "zlib"].includes(m))).toEqual([]);
  });

  test("an idle `run` loads no S3, Vault, GCP, integration or meshStack code", () => {
    const loaded = [...staticClosure(meta, "src/main.ts"), ...staticClosure(meta, "src/cli/run-command.ts")];
    for (const [name, pattern] of Object.entries(BACKENDS)) expect({ name, loaded: loaded.filter((f) => pattern.test(f)) }).toEqual({ name, loaded: [] });
  });
});
