// Fuzz target 5 (docs/testing.md, "Fuzzing"): files the runner and the controller read. The config
// file (through the real resolver), a bundle manifest (as a controller serves it), a runner key
// PEM, and the controller's journal lines on replay. Each case: only the module's own error (a
// ConfigError or EdgeError with a code) whose message names the field and stays short, never
// another exception; a journal whatever its lines opens, and the controller then serves.

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { resolveConfig, ConfigError } from "../../src/config/resolve.ts";
import { parseManifest } from "../../src/plugin-bundles/manifest.ts";
import { ringKeyOf } from "../../src/secrets/key-ring.ts";
import { TrustedKeyRing } from "../../src/plugin-bundles/key-ring.ts";
import { EdgeError } from "../../src/errors.ts";
import { makeController, tempDir, type Harness } from "../reference-controller/helpers.ts";
import { caseLabel, deepText, fuzzCases, fuzzSeed, mutate, mutateText, namesAField, Rng, fuzzTimeout } from "./fuzz-kit.ts";

const harnesses: Harness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.controller.close().catch(() => undefined);
});

const CONFIG = {
  runnerId: "r1",
  group: "default",
  controllerUrl: "https://controller.example:8443",
  apiKeyFile: "/etc/edge-runner/api-key",
  concurrency: 4,
  prefetch: 2,
  jobTimeoutMs: 60_000,
  transport: "auto",
  insecure: false,
  logLevel: "info",
  statusPort: 8787,
  allowedHosts: ["runner.internal"],
  storageBackend: "local",
  storageMaxObjectBytes: 1_000_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 30_000,
};

/** Error messages are read by people and logged: a hostile file must not make them megabytes. */
const MAX_MESSAGE = 4096;

test("fuzz: mutated config files end in a ConfigError naming the option, never another exception", () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x5);
  const cases = fuzzCases(3000);
  for (let i = 0; i < cases; i++) {
    const text = rng.chance(0.75) ? JSON.stringify(mutate(CONFIG, rng)) : mutateText(JSON.stringify(CONFIG), rng);
    try {
      resolveConfig({ scopes: ["runner"], argv: ["--config-file", "/c.json"], env: {}, readFile: () => text });
    } catch (error) {
      expect(error instanceof ConfigError, `${caseLabel(seed, i, text)}: ${String(error)}`).toBe(true);
      const message = (error as ConfigError).message;
      expect(namesAField(message), `${caseLabel(seed, i, text)}: ${message}`).toBe(true);
      expect(message.length, `${caseLabel(seed, i, text)}: a message of ${message.length} characters`).toBeLessThanOrEqual(MAX_MESSAGE);
    }
  }
}, fuzzTimeout());

const MANIFEST = { name: "hello", version: "1.2.3", digest: `sha256-${"A".repeat(43)}`, size: 1234, sdkVersion: "1", builtAt: "2026-01-01T00:00:00.000Z", actions: ["default", "greet"] };

test("fuzz: mutated bundle manifests are refused naming the field, in a message of bounded size", () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x55);
  const cases = fuzzCases(3000);
  for (let i = 0; i < cases; i++) {
    const value = rng.chance(0.8) ? mutate(MANIFEST, rng) : (() => { try { return JSON.parse(mutateText(JSON.stringify(MANIFEST), rng)) as unknown; } catch { return null; } })();
    try {
      parseManifest(value);
    } catch (error) {
      expect(error instanceof Error, `${caseLabel(seed, i, value)}: ${String(error)}`).toBe(true);
      const message = (error as Error).message;
      expect(message.startsWith("Invalid bundle manifest: "), `${caseLabel(seed, i, value)}: ${message.slice(0, 300)}`).toBe(true);
      expect(message.length, `${caseLabel(seed, i, value)}: a message of ${message.length} characters`).toBeLessThanOrEqual(MAX_MESSAGE);
    }
  }
}, fuzzTimeout());

test("fuzz: damaged runner key PEMs are refused with a config error naming the file", () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x555);
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cases = Math.ceil(fuzzCases(3000) / 10);
  for (let i = 0; i < cases; i++) {
    const lines = pem.split("\n");
    const at = 1 + rng.int(lines.length - 2);
    const damaged = rng.pick([
      () => pem.slice(0, rng.int(pem.length)),
      () => { lines[at] = (lines[at] ?? "").replace(/[A-Za-z]/, rng.pick(["!", "*", "a", "\u0000", "\ud800"])); return lines.join("\n"); },
      () => { lines.splice(at, 1); return lines.join("\n"); },
      () => pem.replace("PRIVATE KEY", rng.pick(["PUBLIC KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE  KEY"])),
      () => `${pem}${pem}`,
      () => "x".repeat(rng.pick([0, 10, 100_000])),
    ])();
    try {
      ringKeyOf(damaged, true, "/keys/runner-key.pem");
    } catch (error) {
      expect(error instanceof EdgeError && error.code === "config_invalid", `${caseLabel(seed, i, damaged)}: ${String(error)}`).toBe(true);
      expect((error as EdgeError).message, caseLabel(seed, i, damaged)).toContain(`"/keys/runner-key.pem"`);
    }
  }
}, fuzzTimeout());

test("fuzz: a controller replays a journal of mutated lines, or refuses it naming the file, and then serves", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x5555);
  // A journal written by a real controller: a runner, jobs in several states.
  const source = makeController();
  const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
  await source.controller.app.request("/api/v1/runners", { method: "POST", headers: admin, body: JSON.stringify({ id: "r1" }) });
  for (let j = 0; j < 4; j++) await source.controller.app.request("/api/v1/jobs", { method: "POST", headers: admin, body: JSON.stringify({ plugin: "echo", input: { j }, timeoutMs: 5000, secrets: ["controller:db"] }) });
  await source.settle();
  await source.controller.close();
  const journalFile = fs.readdirSync(path.join(source.dataDir, "controller")).map((f) => path.join(source.dataDir, "controller", f)).find((f) => f.endsWith(".jsonl") && fs.readFileSync(f, "utf8").includes('"t":"job"'));
  expect(journalFile).toBeDefined();
  const lines = fs.readFileSync(journalFile as string, "utf8").split("\n").filter((l) => l !== "");
  const relative = path.relative(source.dataDir, journalFile as string);
  const cases = Math.ceil(fuzzCases(3000) / 60);
  for (let i = 0; i < cases; i++) {
    const mutated = lines.map((line) => (rng.chance(0.4) ? (rng.chance(0.8) ? JSON.stringify(mutate(JSON.parse(line), rng)) : mutateText(line, rng)) : line));
    // A job whose input nests past what Bun's JSON.stringify can write back (an older version's record).
    if (rng.chance(0.1)) mutated.push(JSON.stringify({ t: "job", job: { ...(JSON.parse(lines.find((l) => l.includes('"t":"job"')) as string) as { job: object }).job, input: "DEEP" } }).replace('"DEEP"', deepText(50_000)));
    const dataDir = tempDir();
    fs.mkdirSync(path.dirname(path.join(dataDir, relative)), { recursive: true });
    fs.writeFileSync(path.join(dataDir, relative), `${mutated.join("\n")}\n`);
    const label = caseLabel(seed, i, mutated.join("\n"));
    let h: Harness;
    try {
      h = makeController({}, dataDir);
      harnesses.push(h);
        } catch (error) {
      expect(error instanceof EdgeError, `${label}: ${String(error)}`).toBe(true);
      continue;
    }
    const app = h.controller.app;
    const list = await app.request("/api/v1/jobs?limit=100", { headers: admin });
    expect(list.status, `${label} → ${await list.clone().text()}`).toBe(200);
    const { jobs } = (await list.json()) as { jobs: Array<{ id: string }> };
    for (const job of jobs) {
      // An id no URL can spell (a lone surrogate) cannot be asked for: the list showed it.
      if (/[\ud800-\udfff]/.test(String(job.id)) && !/^(?:[^\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/.test(String(job.id))) continue;
      const one = await app.request(`/api/v1/jobs/${encodeURIComponent(String(job.id))}`, { headers: admin });
      expect(one.status, `${label} → job ${JSON.stringify(job).slice(0, 200)}`).not.toBe(500);
      const cancel = await app.request(`/api/v1/jobs/${encodeURIComponent(String(job.id))}/cancel`, { method: "POST", headers: admin, body: "{}" });
      expect(cancel.status, `${label} → cancel ${JSON.stringify(job).slice(0, 200)}: ${await cancel.clone().text()}`).not.toBe(500);
    }
    expect((await app.request("/api/v1/runners", { headers: admin })).status, label).toBe(200);
    const submitted = await app.request("/api/v1/jobs", { method: "POST", headers: admin, body: JSON.stringify({ plugin: "echo" }) });
    expect(submitted.status, `${label} → ${await submitted.clone().text()}`).toBe(201);
    await h.controller.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, fuzzTimeout());

// Found by the fuzz: a config file or a manifest value was put whole into the error (a 50,000
// item list made a message of 289,000 characters), and one nested past what JSON.stringify can
// write threw a RangeError instead of the config error (exit 78) or the manifest refusal.
test("a config file or manifest value that is huge or nested too deep is refused with a short message naming the field", () => {
  const deep = `{"concurrency":${deepText(50_000)}}`;
  const error = (() => { try { resolveConfig({ scopes: ["runner"], argv: ["--config-file", "/c.json"], env: {}, readFile: () => deep }); } catch (e) { return e; } })();
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).message).toBe(`Invalid value (a value nested deeper than 32 levels) for "concurrency" from config file "/c.json": expected an integer from 1 to 1024`);
  const huge = (() => { try { resolveConfig({ scopes: ["runner"], argv: ["--config-file", "/c.json"], env: {}, readFile: () => JSON.stringify({ allowedHosts: [Array.from({ length: 50_000 }, (_, i) => i)] }) }); } catch (e) { return e; } })();
  expect(huge).toBeInstanceOf(ConfigError);
  expect((huge as ConfigError).message.length).toBeLessThan(400);
  expect((huge as ConfigError).message).toContain(`"allowedHosts"`);
  const manifest = (value: unknown) => { try { parseManifest(value); return "taken"; } catch (e) { return (e as Error).message; } };
  expect(manifest({ ...MANIFEST, actions: Array.from({ length: 50_000 }, (_, i) => `a${i}`) })).toMatch(/^Invalid bundle manifest: field "actions" is \["a0","a1",.{0,200}$/);
  expect(manifest(JSON.parse(`{"name":${deepText(50_000)}}`))).toBe(`Invalid bundle manifest: field "name" is (a value nested deeper than 32 levels), expected a plugin name`);
});

// Found by the fuzz: one journal line whose job had an unknown status stopped the controller from
// starting ("undefined is not an object (evaluating 'ALLOWED[state].length')"), naming neither the
// file nor the field.
test("a journal record with an unknown job status is skipped naming the field; the job's earlier record stands", async () => {
  const source = makeController();
  const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
  const created = (await (await source.controller.app.request("/api/v1/jobs", { method: "POST", headers: admin, body: JSON.stringify({ plugin: "echo" }) })).json()) as { id: string };
  await source.settle();
  await source.controller.close();
  const file = path.join(source.dataDir, "controller", "journal.jsonl");
  const line = fs.readFileSync(file, "utf8").split("\n").find((l) => l.includes(created.id)) as string;
  fs.appendFileSync(file, `${JSON.stringify({ t: "job", job: { ...(JSON.parse(line) as { job: object }).job, status: "exploded" } })}\n`);
  const h = makeController({}, source.dataDir);
  harnesses.push(h);
  const job = await h.controller.app.request(`/api/v1/jobs/${created.id}`, { headers: admin });
  expect(((await job.json()) as { status: string }).status).toBe("queued");
  expect(h.records.some((r) => r.msg === "Skipping an invalid journal record" && JSON.stringify(r).includes(`\\"job.status\\" is not one of`))).toBe(true);
});

test("fuzz: mutated trusted key files (JWKS) load or are refused with a config error naming the file, in a short message", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x5a);
  const { publicKey } = generateKeyPairSync("ed25519");
  const jwk = { ...(publicKey.export({ format: "jwk" }) as object), kid: "release-2026", alg: "EdDSA", exp: 4_102_444_800 };
  const dir = tempDir();
  const file = path.join(dir, "trusted.jwks");
  const cases = Math.ceil(fuzzCases(3000) / 6);
  for (let i = 0; i < cases; i++) {
    const valid = rng.chance(0.5) ? { keys: [jwk, { ...jwk, kid: "second" }] } : jwk;
    const text = rng.chance(0.8) ? JSON.stringify(mutate(valid, rng)) : mutateText(JSON.stringify(valid), rng);
    fs.writeFileSync(file, text, { mode: 0o600 });
    try {
      await TrustedKeyRing.load(file);
    } catch (error) {
      expect(error instanceof EdgeError && error.code === "config_invalid", `${caseLabel(seed, i, text)}: ${String(error)}`).toBe(true);
      const message = (error as EdgeError).message;
      expect(message, caseLabel(seed, i, text)).toContain(file);
      expect(message.length, `${caseLabel(seed, i, text)}: a message of ${message.length} characters`).toBeLessThanOrEqual(MAX_MESSAGE);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}, fuzzTimeout());

// Found by the fuzz: a trusted key file's exp, alg or kid went whole into the error (a 300,000
// character message), an `exp` nested too deep threw a RangeError, and a key without kid whose
// "x" was empty threw jose's JWKInvalid instead of the config error (exit 78).
test("a trusted key file with a huge exp, a bad kid or an empty x is refused with a short config error", async () => {
  const dir = tempDir();
  const file = path.join(dir, "k.jwk");
  const refusal = async (jwk: unknown) => {
    fs.writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
    return TrustedKeyRing.load(file).then(() => "loaded", (e: unknown) => (e instanceof EdgeError ? `${e.code}: ${e.message}` : String(e)));
  };
  const base = { kty: "OKP", crv: "Ed25519", x: "N0Hk25qwzEKGt8kOF1RXdB36e0qdbfur0isd19iP9zg" };
  // Within the file's 64 KiB cap, so the key's own check is what refuses it.
  const huge = await refusal({ ...base, kid: "k1", exp: "x".repeat(60_000) });
  expect(huge.length).toBeLessThan(400);
  expect(huge).toStartWith(`config_invalid: Cannot load trusted key from "${file}": key "k1" has exp "xxx`);
  // Past it, the file is refused unread, naming its size and the cap.
  const past = await refusal({ ...base, kid: "k1", exp: "x".repeat(300_000) });
  expect(past).toBe(`config_invalid: Cannot load trusted key file "${file}": The file "${file}" is ${fs.statSync(file).size} bytes, over the cap of 65536 bytes for it; not read`);
  expect(await refusal({ ...base, kid: { toString: 1 } })).toBe(`config_invalid: Cannot load trusted key from "${file}": "kid" is {"toString":1}, expected a key id of 1 to 256 characters`);
  expect(await refusal({ ...base, x: "" })).toBe(`config_invalid: Cannot load trusted key from "${file}": key "?" is not an Ed25519 public key (kty "OKP", crv "Ed25519", "x" of 43 base64url characters)`);
  fs.rmSync(dir, { recursive: true, force: true });
});

// Found by the fuzz (seed 301, case 1727): a boolean option given an object whose toString is not
// a function threw a TypeError ("No default value") instead of the config error (exit 78).
test("a boolean option given an object in the config file is a config error naming it", () => {
  const error = (() => { try { resolveConfig({ scopes: ["runner"], argv: ["--config-file", "/c.json"], env: {}, readFile: () => `{"insecure":{"toString":"x","valueOf":1}}` }); } catch (e) { return e; } })();
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).message).toBe(`Invalid value {"toString":"x","valueOf":1} for "insecure" from config file "/c.json": expected true or false`);
});
