// Start-up stays close to a hello-world only if `--version` and an idle `run` never load the
// code of backends they do not use (issue 15; the HOUSE rule "lazy-load heavy backends"). The
// build (scripts/build.ts, --splitting) puts every dynamic import() in its own chunk, loaded
// only when imported, so what a command loads is the static import closure of its module. This
// reads that closure from esbuild's metafile (test/helpers/import-graph.ts).

import { describe, expect, test } from "bun:test";
import { builtins, metafileOf, staticClosure } from "../helpers/import-graph.ts";

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
  const meta = await metafileOf("src/main.ts");
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

  test("a reference controller without storeUrl loads no PostgreSQL code (driver and src/reference-controller/postgres/ are imported only when it is set)", () => {
    const postgres = [/node_modules\/postgres\//, /src\/reference-controller\/postgres\//];
    for (const pattern of postgres) expect(all.some((f) => pattern.test(f))).toBe(true);
    const loaded = [...staticClosure(meta, "src/main.ts"), ...staticClosure(meta, "src/cli/controller-command.ts"), ...staticClosure(meta, "src/cli/dev-command.ts")];
    expect(loaded.some((f) => /reference-controller\/controller\.ts$/.test(f))).toBe(true);
    expect(loaded.filter((f) => postgres.some((pattern) => pattern.test(f)))).toEqual([]);
  });

  test("`run` and `controller` on Bun load no Node-only adapter (the ws package, @hono/node-server)", () => {
    // They are imported at run time on Node only (src/platform/websocket.ts, http-server.ts).
    const nodeOnly = /node_modules\/(ws|@hono\/node-server)\//;
    expect(all.some((f) => nodeOnly.test(f))).toBe(true);
    for (const entry of ["src/cli/run-command.ts", "src/cli/controller-command.ts"]) {
      expect({ entry, loaded: [...staticClosure(meta, entry)].filter((f) => nodeOnly.test(f)) }).toEqual({ entry, loaded: [] });
    }
  });

  test("an idle `run` loads no plugin pool, worker threads, bundle verification or jose until its first job", () => {
    // src/cli/runner-executor.ts is imported by the DeferredExecutor at the first job (or when a
    // plugin policy asks for warm workers): what runs jobs is no part of being ready.
    const jobOnly: Record<string, RegExp> = {
      "the executor's assembly": /src\/cli\/runner-executor\.ts$/,
      "the plugin pool": /src\/plugins\/pool\.ts$/,
      // The list of refusal codes is read by /metrics; the verification code is not.
      "bundle verification": /src\/plugin-bundles\/(?!bundle-errors\.ts$)/,
      jose: /node_modules\/jose\//,
      "controller secrets": /src\/runner\/controller-secrets\.ts$/,
      // Loaded by result-spool-front.ts when a saved result waits at start or one must be saved.
      "the result spool": /src\/controller\/edge\/result-spool\.ts$/,
      // Imported by opener.ts when a session uses long-poll (--transport poll, or WebSockets blocked).
      "the long-poll transport": /src\/controller\/edge\/poll-transport\.ts$/,
    };
    for (const [name, pattern] of Object.entries(jobOnly)) expect({ name, found: all.some((f) => pattern.test(f)) }).toEqual({ name, found: true });
    const loaded = [...staticClosure(meta, "src/main.ts"), ...staticClosure(meta, "src/cli/run-command.ts")];
    for (const [name, pattern] of Object.entries(jobOnly)) expect({ name, loaded: loaded.filter((f) => pattern.test(f)) }).toEqual({ name, loaded: [] });
    // node:net only told IP literals apart for the Host check (~6 ms of CPU per start); node:crypto
    // parsed the key ring (~4 ms of CPU and 2-7 MiB on Bun; the ring is read in plain JS now, the
    // KeyObject made at the first decryption); node:util promisified key generation.
    expect([...builtins(meta, loaded)].filter((m) => ["worker_threads", "child_process", "net", "crypto", "util"].includes(m))).toEqual([]);
  });

  test("an idle `run` loads no S3, Vault, GCP, integration or meshStack code", () => {
    const loaded = [...staticClosure(meta, "src/main.ts"), ...staticClosure(meta, "src/cli/run-command.ts")];
    for (const [name, pattern] of Object.entries(BACKENDS)) expect({ name, loaded: loaded.filter((f) => pattern.test(f)) }).toEqual({ name, loaded: [] });
  });
});
