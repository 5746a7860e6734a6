// Issue 8 item 2 and issue 10 "how it is shown": a canary secret through every channel, through
// the built executable. Known values from each backend (a secret input encrypted to the runner,
// the controller's store, Vault, GCP Secret Manager) are logged, echoed, thrown, put in outputs,
// step ids and names and error codes, split across chunks and lines (also in three pieces),
// encoded (base64, base64url, URL, hex, JSON, and escaped per character: strict percent-encoding,
// \u escapes), and printed after the run ended; then every byte the runner and the controller
// wrote (process output, data directories, job logs and results, /status, /metrics, the page) is
// scanned and none of the values is found in any form.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { secretForms } from "../../src/secrets/redaction/secret-forms.ts";
import { startFakeGcp } from "../fakes/fake-gcp.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";
import { FLAVOURS, STATUS_URL, assertBuilt, runToEnd, start, waitForHttp, waitForOutput, type Flavour, type Proc } from "../helpers/processes.ts";
import { launchController } from "../helpers/binary-bed.ts";

const root = new URL("../..", import.meta.url).pathname;
// Every flavour: node-vault is loaded on first use, which must work compiled, bundled on Node and on Deno.
const flavours: Flavour[] = process.env.EDGE_RUNNER_TEST_BINARY === undefined ? FLAVOURS : [{ name: "test binary", command: [process.env.EDGE_RUNNER_TEST_BINARY] }];
let root0: string;
let runs = 0;
const procs: Proc[] = [];
const closers: Array<() => Promise<void>> = [];

beforeAll(() => {
  if (process.env.EDGE_RUNNER_TEST_BINARY === undefined) assertBuilt();
  root0 = mkdtempSync(path.join(tmpdir(), "edge-runner-canary-"));
});
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  for (const close of closers) await close();
  rmSync(root0, { recursive: true, force: true });
});

const CANARIES = {
  input: "cnry-input-7Hq2Lx9Vb3Kd",
  controller: "cnry-ctl-Qw8Zp1Rt6Ys4\ncnry-ctl-line2-Mn5Bv7",
  vault: "cnry-vault-Jk3Hg8Fd2Sa9",
  gcp: "cnry-gcp-Pl0Ok9Ij8Uh7Yg",
  // Made by the plugin itself: masked with ctx.secrets.mask(), and a sensitive output.
  masked: "cnry-masked-Zx4Cv6Bn8Mq1",
  sensitive: "cnry-sensitive-Wd3Ef5Rg7Th9",
};

// Escapes a tool applies per character (the redactor matches them decoded): in the plugin and in the needles.
const ESCAPES = `const strictPercent = (s) => Array.from(new TextEncoder().encode(s), (b) => /[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : "%" + b.toString(16).padStart(2, "0")).join("");
const unicodeEscapes = (s) => Array.from(s, (c) => "\\\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");`;
const escapeForms = new Function(`${ESCAPES}; return (s) => [strictPercent(s), unicodeEscapes(s)];`)() as (s: string) => string[];

const PLUGIN = (sdk: string) => `import { definePlugin } from ${JSON.stringify(sdk)};
const hex = (s) => Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");
const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
${ESCAPES}
export default definePlugin({
  name: "canary",
  version: "1.0.0",
  actions: {
    async leak(input, ctx) {
      // Values the plugin makes itself (here from a reversed seed, so no input carries them).
      const made = [...input.made].reverse().join("");
      const sensitive = [...input.sensitive].reverse().join("");
      ctx.secrets.mask(made);
      ctx.log.info("made " + made + " / " + b64(made));
      ctx.outputs.set("token", sensitive, { sensitive: true });
      ctx.log.info("sensitive " + sensitive);
      const values = [input.password];
      for (const ref of input.refs) values.push(await ctx.secrets.get(ref));
      values.forEach((v, i) => {
        ctx.log.info("raw " + v);
        ctx.log.info("b64 " + b64(v) + " b64url " + b64(v).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""));
        ctx.log.info("url " + encodeURIComponent(v) + " hex " + hex(v) + " json " + JSON.stringify({ v }) + " json2 " + JSON.stringify(JSON.stringify({ v })));
        ctx.log.info("prefix-x" + b64("x" + v) + " prefix-xy" + b64("xy" + v));
        ctx.log.info("split start " + v.slice(0, 9));
        ctx.log.info(v.slice(9) + " split end");
        ctx.log.info("escaped " + strictPercent(v) + " " + unicodeEscapes(v) + " " + JSON.stringify(unicodeEscapes(v)));
        // Three pieces, the middle one all middle.
        ctx.log.info(v.slice(0, 5));
        ctx.log.info(v.slice(5, 12));
        ctx.log.info(v.slice(12) + " three");
        console.log("console " + v);
        ctx.step({ id: "step-" + v, name: "name " + v, status: "running", message: "message " + v });
        ctx.step({ id: "step-" + v, status: "succeeded" });
        ctx.outputs.set("o" + i, v);
        ctx.outputs.set("e" + i, { nested: [b64(v)] });
      });
      // Printed after the run has ended, from a timer the action left behind.
      setTimeout(() => { console.log("late " + values.join(" ")); console.error("late err " + values[0]); }, 30);
      if (input.mode === "throw") throw Object.assign(new Error("boom " + values.join(" | ") + " " + JSON.stringify({ values })), { code: values[0] });
      return { echoed: values, encoded: values.map(b64) };
    },
  },
});
`;

/** Every file under `dir`, recursively. */
function filesUnder(top: string): string[] {
  return readdirSync(top, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** The forms of every canary that must appear nowhere; pieces shorter than 8 characters are too common to search for. */
function needles(): Array<{ canary: string; form: string }> {
  const out: Array<{ canary: string; form: string }> = [];
  for (const [name, value] of Object.entries(CANARIES)) {
    for (const form of [...secretForms(value), ...escapeForms(value)]) if (form.length >= 8) out.push({ canary: name, form });
  }
  return out;
}

for (const binary of flavours) test(`no canary secret, in any form, reaches anything the runner or the controller wrote (${binary.name})`, async () => {
  const cli = async (args: string[]): Promise<string> => {
    const { code, output } = await runToEnd(binary, args);
    if (code !== 0) throw new Error(`edge-runner ${args.join(" ")} exited ${code}:\n${output}`);
    return output;
  };
  const dir = path.join(root0, String(++runs));
  mkdirSync(dir);
  const vault = await startFakeVault();
  const gcp = await startFakeGcp();
  closers.push(vault.close, gcp.close);
  vault.putKv2("kv/app", { password: CANARIES.vault });
  gcp.addVersion("projects/test-project/secrets/canary", CANARIES.gcp);

  const files = path.join(dir, "files");
  mkdirSync(files, { mode: 0o700 });
  const write = (name: string, text: string) => {
    const file = path.join(files, name);
    writeFileSync(file, text, { mode: 0o600 });
    chmodSync(file, 0o600);
    return file;
  };
  const vaultToken = write("vault-token", vault.token());
  const gcpKey = write("gcp.json", gcp.serviceAccountJson);
  const ctlValue = write("ctl-value", CANARIES.controller);

  const controllerDir = path.join(dir, "controller");
  const runnerDir = path.join(dir, "runner");
  const { proc: controller, url, common } = await launchController(binary, procs, controllerDir);
  const tokenFile = path.join(controllerDir, "controller", "admin-token");

  // The canary plugin, signed and published; the runner trusts its key.
  const keys = path.join(dir, "keys");
  await cli(["keygen", "--signing", "--out-dir", keys, "--kid", "canary-key"]);
  const trusted = path.join(dir, "trusted");
  mkdirSync(trusted);
  copyFileSync(path.join(keys, "signing-canary-key.pub.jwk"), path.join(trusted, "canary-key.jwk"));
  const src = path.join(dir, "canary.ts");
  writeFileSync(src, PLUGIN(path.join(root, "src/plugins/sdk.ts")));
  const out = path.join(dir, "build");
  await cli(["plugin", "build", src, "--out", out]);
  await cli(["plugin", "sign", path.join(out, "canary-1.0.0.manifest.json"), "--key", path.join(keys, "signing-canary-key.key.jwk")]);
  await cli(["plugin", "publish", path.join(out, "canary-1.0.0.mjs"), "--controller-url", url, "--admin-token-file", tokenFile]);

  await cli(["secret", "set", "ctl/canary", "--value-file", ctlValue, ...common]);
  const apiKey = path.join(files, "r1.key");
  await cli(["runner", "register", "r1", "--api-key-out", apiKey, ...common]);
  const runner = start(binary, [
    "run", "--runner-id", "r1", "--api-key-file", apiKey, "--controller-url", url, "--status-port", "0", "--start-jitter", "0",
    "--data-dir", runnerDir, "--trusted-keys", trusted, "--log-level", "debug",
    "--vault-addr", vault.url, "--vault-token-file", vaultToken,
    "--gcp-credentials-file", gcpKey, "--gcp-secret-manager-url", gcp.url,
    "--plugin-policy", '{"canary@1.0.0": {"isolation": "process"}}',
  ]);
  procs.push(runner);
  const statusUrl = await waitForOutput(runner, STATUS_URL);
  await waitForHttp(`${statusUrl}/readyz`);
  await new Promise((r) => setTimeout(r, 500)); // the runner tells its keys right after start

  const refs = ["ctl/canary", "vault:kv/data/app#password", "gcp:projects/test-project/secrets/canary"];
  const jobs: Array<{ id: string; status: string; error?: { code: string } }> = [];
  for (const [mode, plugin] of [["return", "canary@1.0.0"], ["throw", "canary@1.0.0"]] as const) {
    const submitted = JSON.parse(await cli(["job", "submit", plugin, "--action", "leak", "--json", "--input", JSON.stringify({ refs, mode, made: [...CANARIES.masked].reverse().join(""), sensitive: [...CANARIES.sensitive].reverse().join("") }), "--secret", `password=${CANARIES.input}`, "--secrets", refs.join(","), ...common])) as { id: string };
    let job;
    for (;;) {
      job = JSON.parse(await cli(["job", "get", submitted.id, "--json", ...common])) as { id: string; status: string; error?: { code: string } };
      if (!["queued", "leased", "running"].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    jobs.push(job);
  }
  expect(jobs.map((j) => j.status)).toEqual(["succeeded", "failed"]);
  // A sensitive output is shown only as a marker, and read only through its own admin route.
  const shown = JSON.parse(await cli(["job", "get", jobs[0]!.id, "--json", ...common])) as { output: Record<string, unknown> };
  expect(shown.output.token).toEqual({ $sensitive: true });
  const token = await (await fetch(`${url}/api/v1/jobs/${jobs[0]!.id}/outputs/token`, { headers: { authorization: `Bearer ${readFileSync(tokenFile, "utf8").trim()}` } })).json();
  expect(token).toEqual({ name: "token", value: CANARIES.sensitive });
  await new Promise((r) => setTimeout(r, 300)); // the late prints

  // Everything either process wrote or answers.
  const corpus: Array<{ where: string; text: string }> = [];
  for (const job of jobs) {
    corpus.push({ where: `job ${job.id} (admin API)`, text: await cli(["job", "get", job.id, "--json", ...common]) });
    const logs = await cli(["job", "logs", job.id, "--json", ...common]);
    corpus.push({ where: `job ${job.id} logs`, text: logs });
    // A secret split over two lines is found when the lines are put back together.
    const messages = logs.split("\n").filter((l) => l.startsWith("{")).flatMap((l) => ((JSON.parse(l) as { lines?: Array<{ msg: string }> }).lines ?? []).map((x) => x.msg));
    expect(messages.length).toBeGreaterThan(10);
    corpus.push({ where: `job ${job.id} log lines joined`, text: messages.join("") }, { where: `job ${job.id} log lines joined by newlines`, text: messages.join("\n") });
  }
  for (const page of ["/status", "/metrics", "/"]) corpus.push({ where: `runner ${page}`, text: await (await fetch(statusUrl + page)).text() });
  runner.kill("SIGTERM");
  await runner.exited;
  controller.kill("SIGTERM");
  await controller.exited;
  corpus.push({ where: "runner output", text: runner.output() }, { where: "controller output", text: controller.output() });
  for (const top of [controllerDir, runnerDir]) {
    for (const file of filesUnder(top)) if (statSync(file).size < 64 * 1024 * 1024) corpus.push({ where: file, text: readFileSync(file, "latin1") });
  }

  // What the plugin printed after its run reached the runner's log, masked.
  expect(corpus.find((c) => c.where === "runner output")?.text).toContain("Plugin printed outside a run");
  // The jobs did see the values (their logs carry the mask where each was printed).
  expect(corpus.find((c) => c.where.endsWith("logs"))?.text).toContain("[REDACTED]");
  const found: string[] = [];
  // The runner's own secrets: its API key and its Vault token.
  for (const [name, file] of [["api key", apiKey], ["vault token", vaultToken]] as const) {
    const value = readFileSync(file, "utf8").trim();
    for (const { where, text } of corpus) if (text.includes(value)) found.push(`${name} in ${where}`);
  }
  for (const { canary, form } of needles()) {
    for (const { where, text } of corpus) if (text.includes(form)) found.push(`${canary} as ${JSON.stringify(form)} in ${where}`);
  }
  if (found.length > 0) for (const { where, text } of corpus) if (where.endsWith("logs")) console.error(text.split("\n").filter((l) => l.includes("cnry")).join("\n"));
  expect(found).toEqual([]);
}, 240_000);
