// A secret reference that cannot be resolved (Vault down, sealed, too slow) fails the job with an
// error naming the reference, never its value, and nothing runs without it: the shell plugin
// resolves every reference before it starts the command.

import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { SecretBackends } from "../../src/secrets/references/secret-backends.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";
import { tempDir } from "../helpers/harness.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

const tmp = tempDir("edge-runner-secret-outage-");
const vault = await startFakeVault();
vault.putKv2("kv/app", { token: "vault-value-93817" });
const token = vault.token();
const backendsFor = (addr: string) => new SecretBackends({ registerSecret: () => {}, env: { PRESENT: "env-value-55120" }, envNames: ["PRESENT"], vault: { addr, token, timeoutMs: 300 } });
let backends = backendsFor(vault.url);
const { pool } = testPool({
  secrets: (req) => ({ get: (ref: string, signal: AbortSignal) => backends.resolve(ref, { jobId: req.jobId, attempt: req.attempt, ...(req.declaredSecrets === undefined ? {} : { declared: req.declaredSecrets }) }, signal) }),
});
afterAll(async () => {
  await pool.close();
  vault.close();
  tmp.remove();
});

const REF = "vault:kv/data/app#token";
const cases: Array<[name: string, setUp: () => void, message: RegExp]> = [
  ["Vault unreachable", () => (backends = backendsFor("http://127.0.0.1:9")), /Vault is unreachable/],
  ["Vault sealed (503)", () => { backends = backendsFor(vault.url); vault.fail({ status: 200, body: { data: { ttl: 0 } } }); vault.fail({ status: 503, body: { errors: ["Vault is sealed"] } }); }, /Vault is sealed/],
  ["Vault too slow", () => { backends = backendsFor(vault.url); vault.fail({ status: 200, body: { data: { ttl: 0 } } }); vault.fail({ status: 200, body: {}, delayMs: 2000 }); }, /within 300 ms/],
];
for (const [name, setUp, message] of cases) {
  test(`${name}: the job fails naming the reference, and the command never runs`, async () => {
    setUp();
    const marker = path.join(tmp.dir, name.replace(/\W+/g, "-"));
    const r = request("shell", "run", {
      input: { command: ["sh", "-c", `touch '${marker}'`], secretEnv: { FIRST: "env:PRESENT", TOKEN: REF } },
      declaredSecrets: ["env:PRESENT", REF],
    });
    const outcome = await pool.run(r);
    expect(outcome).toMatchObject({ status: "failed", error: { code: "secret_backend_unavailable" } });
    expect(outcome.error?.message).toContain(`"${REF}"`);
    expect(outcome.error?.message).toMatch(message);
    expect(JSON.stringify([outcome, r.logs])).not.toMatch(/vault-value-93817|env-value-55120/);
    expect(existsSync(marker)).toBe(false);
  });
}

test("with Vault back, the same job runs with the value", async () => {
  backends = backendsFor(vault.url);
  const marker = path.join(tmp.dir, "ran");
  const r = request("shell", "run", { input: { command: ["sh", "-c", `test "$TOKEN" = vault-value-93817 && touch '${marker}'`], secretEnv: { TOKEN: REF } }, declaredSecrets: [REF] });
  expect((await pool.run(r)).status).toBe("succeeded");
  expect(existsSync(marker)).toBe(true);
});
