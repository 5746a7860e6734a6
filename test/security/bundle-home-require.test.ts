// Review S defect 1: a verified bundle's require() must never load unsigned code from the data
// dir. esbuild leaves an unresolvable require() inside try/catch (an optional dependency such as
// ws -> bufferutil) as a runtime call; with a full createRequire() behind it, Node searches
// $HOME/.node_modules and $HOME/.node_libraries, and the shipped systemd unit and Kubernetes
// manifest set HOME to the data dir. The runner here runs with HOME = its data dir, where the
// attacker (who can write only there) planted "bufferutil": the signed plugin must take its
// fallback, and the planted code must never run.

import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { FLAVOURS, STATUS_URL, runToEnd, start, waitForHttp, waitForOutput } from "../helpers/processes.ts";
import { binaryBed, launchController } from "../helpers/binary-bed.ts";

const root = new URL("../..", import.meta.url).pathname;
const bed = binaryBed("er-sec-home-");
const { procs } = bed;

/** A plugin project like one using ws: a dependency with an optional native speed-up, and a library that makes its own require(). */
function writePlugin(dir: string): string {
  const dep = path.join(dir, "node_modules", "wslike");
  mkdirSync(dep, { recursive: true });
  writeFileSync(path.join(dep, "package.json"), JSON.stringify({ name: "wslike", version: "1.0.0", main: "index.js" }));
  writeFileSync(path.join(dep, "index.js"), `let native = null;
try { native = require("bufferutil"); } catch (e) { native = "fallback:" + e.code; }
let own;
try { own = require("node:module").createRequire("/nonexistent/lib.js")("bufferutil"); } catch (e) { own = "fallback:" + e.code; }
module.exports = { native, own, fs: typeof require("fs").readFileSync };
`);
  const entry = path.join(dir, "entry.ts");
  writeFileSync(entry, `import { definePlugin } from ${JSON.stringify(path.join(root, "src/plugins/sdk.ts"))};
import wslike from "wslike";
export default definePlugin({ name: "optdep", version: "1.0.0", actions: { run: async () => ({ ...wslike, native: typeof wslike.native === "string" ? wslike.native : "LOADED", own: typeof wslike.own === "string" ? wslike.own : "LOADED" }) } });
`);
  return entry;
}

describe("bundle require() and the data dir as HOME", () => {
  for (const flavour of FLAVOURS) {
    test(`${flavour.name}: a signed bundle's optional require() never loads a module planted in $HOME (the data dir)`, async () => {
      const base = mkdtempSync(path.join(bed.dir, "run-"));
      const cli = async (args: string[]): Promise<string> => {
        const { code, output } = await runToEnd(flavour, args);
        if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${output}`);
        return output;
      };
      const dataDir = path.join(base, "controller");
      const { proc: controller, url, common } = await launchController(flavour, procs, dataDir, { timeoutMs: 60_000 });
      const keys = path.join(base, "keys");
      await cli(["keygen", "--signing", "--out-dir", keys, "--kid", "k"]);
      const trusted = path.join(base, "trusted");
      mkdirSync(trusted);
      copyFileSync(path.join(keys, "signing-k.pub.jwk"), path.join(trusted, "k.jwk"));
      const entry = writePlugin(path.join(base, "plugin"));
      await cli(["plugin", "build", entry, "--out", path.join(base, "out")]);
      const bundle = path.join(base, "out", "optdep-1.0.0.mjs");
      // The precondition of the attack: the bundle really calls require("bufferutil") at run time.
      expect(readFileSync(bundle, "utf8")).toContain('require("bufferutil")');
      await cli(["plugin", "sign", path.join(base, "out", "optdep-1.0.0.manifest.json"), "--key", path.join(keys, "signing-k.key.jwk")]);
      await cli(["plugin", "publish", bundle, "--controller-url", url, "--admin-token-file", path.join(dataDir, "controller", "admin-token")]);
      const keyFile = path.join(dataDir, "r1.key");
      await cli(["runner", "register", "r1", "--api-key-out", keyFile, ...common]);

      // The attacker: can write in the runner's data dir, nothing else.
      const runnerData = path.join(base, "runner");
      const marker = path.join(base, "PWNED");
      const planted = `require("fs").writeFileSync(${JSON.stringify(marker)}, "unsigned code ran"); module.exports = "attacker";`;
      mkdirSync(path.join(runnerData, ".node_modules", "bufferutil"), { recursive: true, mode: 0o700 });
      writeFileSync(path.join(runnerData, ".node_modules", "bufferutil", "index.js"), planted);
      mkdirSync(path.join(runnerData, ".node_libraries"), { recursive: true });
      writeFileSync(path.join(runnerData, ".node_libraries", "bufferutil.js"), planted);

      const runner = start(flavour, [
        "run", "--runner-id", "r1", "--api-key-file", keyFile, "--controller-url", url, "--status-port", "0",
        "--start-jitter", "0", "--data-dir", runnerData, "--trusted-keys", trusted,
      ], { env: { HOME: runnerData }, cwd: runnerData });
      procs.push(runner);
      await waitForHttp(`${await waitForOutput(runner, STATUS_URL, 60_000)}/readyz`, 60_000);
      const submit = start(flavour, ["job", "submit", "optdep@1.0.0", "--action", "run", "--input", "{}", "--wait", "--json", ...common]);
      procs.push(submit);
      // A job that never ends (a worker that died loading the bundle) fails here, not at the test's timeout.
      await Promise.race([submit.exited, new Promise((r) => setTimeout(r, 30_000))]);
      submit.kill("SIGKILL");
      const output = submit.output();
      if (!output.trim().startsWith("{")) throw new Error(`job submit printed no job:\n${output}\nrunner:\n${runner.output().slice(-3000)}\ncontroller:\n${controller.output().slice(-3000)}`);
      const job = JSON.parse(output) as { status: string; output?: unknown; error?: unknown };
      expect({ status: job.status, output: job.output, error: job.error }).toEqual({ status: "succeeded", output: { native: "fallback:MODULE_NOT_FOUND", own: "fallback:MODULE_NOT_FOUND", fs: "function" }, error: undefined });
      expect(existsSync(marker)).toBe(false);
      runner.kill("SIGKILL");
      controller.kill("SIGKILL");
    }, 180_000);
  }
});
