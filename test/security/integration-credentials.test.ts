// Credentials of the pipeline integrations echoed back by an API or a proxy in its error body
// (issue 8 item 2, "fail closed"): the GitHub App's JWT and installation access token are
// credentials the plugin obtains itself, so the job's redaction must learn them; and the API's
// error message, cut to 200 characters before the runner redacts it, must not keep the first
// characters of an echoed token; nor may a Vault error (src/util/clip-words.ts, also for GCP).
// Each failed before its fix. The fake GitHub is the one of
// test/integrations; the echo is a fault (a misbehaving server or proxy), not GitHub's behaviour.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { FakeGithub } from "../integrations/fakes/github.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

let github: FakeGithub;
const { pool } = testPool({ cancelGraceMs: 100 });
beforeAll(async () => {
  github = new FakeGithub();
  await github.start();
});
afterAll(async () => {
  await pool.close();
  await github.stop();
});

const echoAuthorization = (path: RegExp, prefix = "Refused the request sent with", times = 1) => github.fault({
  times,
  match: (req) => path.test(req.path),
  reply: (req) => ({ status: 401, body: { message: `${prefix} ${String(req.headers.authorization)}`, status: "401" } }),
});
const dispatch = (credentials: Record<string, unknown>, secrets: Record<string, string>, scope: RedactionScope) => request("github-workflow", "dispatch", {
  input: { baseUrl: github.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", pollMs: 100, ...credentials },
  secrets,
  redaction: scope,
});

test("an installation access token echoed in an error body is masked in the job's error", async () => {
  // Twice: after a 401 the plugin drops the App token, gets a new one and tries once more (a
  // token that expired mid-run); both tokens come back in the refusals and both are masked.
  echoAuthorization(/\/dispatches$/, undefined, 2);
  const tokensBefore = new Set(github.tokens);
  const scope = new RedactionScope();
  const outcome = await pool.run(dispatch({ app: { appId: github.appId, privateKeyRef: "ghkey" } }, { ghkey: github.privateKeyPem }, scope));
  expect(outcome.status).toBe("failed");
  const issued = [...github.tokens].filter((t) => !tokensBefore.has(t));
  expect(issued.length).toBe(2);
  expect(outcome.error?.message).toContain("Bearer [REDACTED]");
  for (const token of issued) expect(JSON.stringify(outcome)).not.toContain(token);
});

test("the app JWT the plugin signs is known to the job's redaction", async () => {
  const scope = new RedactionScope();
  // Another repository: the installation token of the test before is cached for its own.
  const before = github.requests.length;
  const outcome = await pool.run(dispatch({ repo: "other", app: { appId: github.appId, privateKeyRef: "ghkey" } }, { ghkey: github.privateKeyPem }, scope));
  expect(outcome.status).toBe("succeeded");
  const lookup = github.requests.slice(before).find((r) => r.path.endsWith("/installation"));
  const jwt = /^Bearer (.+)$/.exec(String(lookup?.headers.authorization))?.[1] ?? "";
  expect(jwt).toMatch(/^eyJ/);
  // Longer than any API message the plugin passes on, so it is checked where it would be masked.
  expect(scope.text(`echoed ${jwt} back`)).toBe("echoed [REDACTED] back");
});

test("an API message cut to its limit does not keep the first characters of an echoed token", async () => {
  const pat = "ghp_fake_personal_token_value";
  // The limit (200 characters) falls 9 characters into the token.
  echoAuthorization(/\/dispatches$/, "x".repeat(200 - "Bearer ".length - 9 - 1));
  const scope = new RedactionScope();
  const outcome = await pool.run(dispatch({ tokenRef: "ghtoken" }, { ghtoken: pat }, scope));
  expect(outcome.status).toBe("failed");
  expect(outcome.error?.message).toContain("credentials were refused (401");
  expect(outcome.error?.message).not.toContain(pat.slice(0, 6));
});

test("a Vault error cut to its limit does not keep the first characters of an echoed token", async () => {
  const { startFakeVault } = await import("../fakes/fake-vault.ts");
  const { VaultBackend } = await import("../../src/secrets/references/vault-backend.ts");
  const { parseReference } = await import("../../src/secrets/references/reference.ts");
  const fake = await startFakeVault();
  try {
    const token = fake.token();
    const scope = new RedactionScope();
    const backend = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000, registerSecret: (v) => scope.add(v) });
    // Vault's errors array, the token 9 characters past the 200 kept of an entry.
    fake.fail({ status: 400, body: { errors: [`${"x".repeat(200 - 9 - 1)} ${token}`] } });
    const message = await backend.read(parseReference("vault:kv/data/app#password") as never).then(() => "", (error: Error) => error.message);
    expect(message).toContain("Vault refused the request (400)");
    expect(scope.text(message)).not.toContain(token.slice(0, 6));
  } finally {
    await fake.close();
  }
});
