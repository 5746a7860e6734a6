// Issue 8 item 3: no time-of-check/time-of-use in the plugin bundle cache. A loop swaps the cached
// file `<dataDir>/plugins/sha256/<hex>.mjs` for other code while jobs run (a new worker per job,
// bundles re-checked for every job): the swapped code must never run, because the worker runs
// the bytes that were verified, not a second read of the file. Trusted-key directories and files
// that group or others can write are refused.

import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { TrustedKeyRing } from "../../src/plugin-bundles/key-ring.ts";
import { LEGACY_REQUIRE_SHIM, REQUIRE_SHIM } from "../../src/plugin-bundles/bundler.ts";
import { verifiedBundleSource } from "../../src/plugin-bundles/verified-source.ts";
import { FLAVOURS, STATUS_URL, runToEnd, start, waitForHttp, waitForOutput } from "../helpers/processes.ts";
import { binaryBed, launchController } from "../helpers/binary-bed.ts";

const root = new URL("../..", import.meta.url).pathname;
/** Jobs per flavour: the compiled binary is quick to drive; the bundles' CLI starts slowly. */
const JOBS: Record<string, number> = { "compiled binary": 30, "bundle on Node": 10, "bundle on Deno": 10 };
const bed = binaryBed("er-sec-swap-");
const { procs } = bed;

function pluginSource(tag: string, marker: string): string {
  return `import { definePlugin } from ${JSON.stringify(path.join(root, "src/plugins/sdk.ts"))};
import { appendFileSync } from "node:fs";
export default definePlugin({
  name: "victim",
  version: "1.0.0",
  actions: {
    run: async () => {
      ${tag === "swapped" ? `appendFileSync(${JSON.stringify(marker)}, "ran\\n");` : ""}
      return { tag: ${JSON.stringify(tag)} };
    },
  },
});
`;
}

describe("bundle cache swap race", () => {
  for (const flavour of FLAVOURS) {
    const jobs = JOBS[flavour.name] ?? 10;
    test(`${flavour.name}: a loop of cache-file swaps during ${jobs} jobs runs the swapped code 0 times`, async () => {
      const base = mkdtempSync(path.join(bed.dir, "run-"));
      const cli = async (args: string[]): Promise<string> => {
        const { code, output } = await runToEnd(flavour, args);
        if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${output}`);
        return output;
      };
      const marker = path.join(base, "swapped-code-ran");
      const dataDir = path.join(base, "controller");
      const { proc: controller, url, common } = await launchController(flavour, procs, dataDir, { timeoutMs: 60_000 });

      // The genuine bundle, signed and published; the swapped one built but never signed.
      const keys = path.join(base, "keys");
      await cli(["keygen", "--signing", "--out-dir", keys, "--kid", "k"]);
      const trusted = path.join(base, "trusted");
      mkdirSync(trusted);
      copyFileSync(path.join(keys, "signing-k.pub.jwk"), path.join(trusted, "k.jwk"));
      for (const tag of ["genuine", "swapped"]) {
        writeFileSync(path.join(base, `${tag}.ts`), pluginSource(tag, marker));
        await cli(["plugin", "build", path.join(base, `${tag}.ts`), "--out", path.join(base, tag)]);
      }
      const genuine = path.join(base, "genuine", "victim-1.0.0.mjs");
      const swapped = readFileSync(path.join(base, "swapped", "victim-1.0.0.mjs"));
      await cli(["plugin", "sign", path.join(base, "genuine", "victim-1.0.0.manifest.json"), "--key", path.join(keys, "signing-k.key.jwk")]);
      await cli(["plugin", "publish", genuine, "--controller-url", url, "--admin-token-file", path.join(dataDir, "controller", "admin-token")]);

      const keyFile = path.join(dataDir, "r1.key");
      await cli(["runner", "register", "r1", "--api-key-out", keyFile, ...common]);
      const runnerData = path.join(base, "runner");
      const runner = start(flavour, [
        "run", "--runner-id", "r1", "--api-key-file", keyFile, "--controller-url", url, "--status-port", "0",
        "--start-jitter", "0", "--data-dir", runnerData, "--trusted-keys", trusted, "--bundle-recheck", "0",
        // A fresh worker (a fresh import) for every job: the moment the old code read the file again.
        "--plugin-policy", '{"victim@1.0.0": {"maxJobsPerWorker": 1, "idleMs": 1}}',
      ]);
      procs.push(runner);
      const statusUrl = await waitForOutput(runner, STATUS_URL, 60_000);
      await waitForHttp(`${statusUrl}/readyz`, 60_000);

      const cached = path.join(runnerData, "plugins", "sha256", `${createHash("sha256").update(readFileSync(genuine)).digest("hex")}.mjs`);
      let swapping = true;
      let swaps = 0;
      // The attacker: keeps renaming other code over the cached file, as fast as it can.
      const swapper = (async () => {
        while (swapping) {
          if (existsSync(path.dirname(cached))) {
            const temp = `${cached}.swap`;
            try {
              writeFileSync(temp, swapped);
              renameSync(temp, cached);
              swaps++;
            } catch {
              // The runner may be replacing the directory entry at the same moment.
            }
          }
          await new Promise((r) => setTimeout(r, 1));
        }
      })();

      const tags: string[] = [];
      try {
        for (let i = 0; i < jobs; i++) {
          const { output } = await runToEnd(flavour, ["job", "submit", "victim@1.0.0", "--action", "run", "--input", "{}", "--wait", "--json", ...common]);
          const job = JSON.parse(output) as { status: string; output?: { tag?: string }; error?: { code: string } };
          tags.push(job.output?.tag ?? `${job.status}:${job.error?.code ?? "?"}:${(job.error as { message?: string } | undefined)?.message ?? ""}`);
        }
      } finally {
        swapping = false;
        await swapper;
      }
      expect(swaps).toBeGreaterThan(jobs);
      expect(existsSync(marker)).toBe(false);
      expect(tags.filter((t) => t === "swapped")).toEqual([]);
      expect(tags).toEqual(Array.from({ length: jobs }, () => "genuine"));
      runner.kill("SIGKILL");
      controller.kill("SIGKILL");
    }, 300_000);
  }
});

describe("verifiedBundleSource()", () => {
  test("verifiedBundleSource() imports the verified bytes, and swaps only the legacy require() shim line", async () => {
    const body = 'export default { answer: 42, hasRequire: typeof require === "function" };';
    const current = verifiedBundleSource({ name: "x", version: "1", digest: "sha256:a", bytes: new TextEncoder().encode(body) });
    expect(current.kind === "bundle" && Buffer.from(current.url.split(",")[1]!, "base64").toString()).toBe(body);
    const legacy = verifiedBundleSource({ name: "x", version: "1", digest: "sha256:b", bytes: new TextEncoder().encode(`${LEGACY_REQUIRE_SHIM}\n${body}`) });
    const text = legacy.kind === "bundle" ? Buffer.from(legacy.url.split(",")[1]!, "base64").toString() : "";
    expect(text).toBe(`${REQUIRE_SHIM}\n${body}`);
    expect((await import(legacy.kind === "bundle" ? legacy.url : "")).default).toEqual({ answer: 42, hasRequire: true });
  });
});

describe("TrustedKeyRing.load() refuses keys others can change", () => {
  const key = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "k" };

  test("TrustedKeyRing.load() refuses a group- or world-writable directory", async () => {
    for (const mode of [0o775, 0o777]) {
      const keys = mkdtempSync(path.join(bed.dir, "keys-"));
      writeFileSync(path.join(keys, "k.jwk"), JSON.stringify(key), { mode: 0o644 });
      chmodSync(keys, mode);
      const error = await TrustedKeyRing.load(keys).then(() => undefined, (e: unknown) => e as { code: string; message: string });
      expect(error?.code).toBe("config_invalid");
      expect(error?.message).toContain("chmod go-w");
    }
  });

  test("TrustedKeyRing.load() refuses a group- or world-writable key file, in a directory or alone", async () => {
    const keys = mkdtempSync(path.join(bed.dir, "keys-"));
    writeFileSync(path.join(keys, "k.jwk"), JSON.stringify(key));
    chmodSync(path.join(keys, "k.jwk"), 0o664);
    expect(await TrustedKeyRing.load(keys).then(() => "loaded", (e: { code: string }) => e.code)).toBe("config_invalid");
    chmodSync(path.join(keys, "k.jwk"), 0o646);
    expect(await TrustedKeyRing.load(path.join(keys, "k.jwk")).then(() => "loaded", (e: { code: string }) => e.code)).toBe("config_invalid");
    chmodSync(path.join(keys, "k.jwk"), 0o644);
    expect((await TrustedKeyRing.load(keys)).kids).toEqual(["k"]);
  });
});
