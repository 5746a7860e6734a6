// JobCalls' secret.get registers a resolved value's parts when it is JSON: a Vault field holding
// an object (against the fake Vault, test/fakes/fake-vault.ts) or a GCP payload of JSON text came
// out masked only as its whole JSON text, so a plugin that parsed it and logged one field
// printed that field in clear (review finding). One rule with meshStack's sensitive inputs
// (src/secrets/redaction/sensitive-parts.ts).

import { afterEach, expect, test } from "bun:test";
import type { ArtifactSink } from "../../src/artifacts/artifact-sink.ts";
import { JobCalls } from "../../src/plugins/host-calls.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { VaultBackend } from "../../src/secrets/references/vault-backend.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import type { StorageService } from "../../src/storage/storage-service.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function calls(get: (ref: string) => Promise<string>, redaction: RedactionScope): JobCalls {
  return new JobCalls({
    jobId: "job-1",
    attempt: 1,
    secrets: { get: (ref) => get(ref) },
    // Not reached by secret.get.
    storage: {} as StorageService,
    artifacts: {} as ArtifactSink,
    artifactMaxBytes: 0,
    signal: () => new AbortController().signal,
    redaction,
  });
}

test("JobCalls secret.get masks each string and number of a Vault field that is an object", async () => {
  const fake = await startFakeVault();
  closers.push(fake.close);
  fake.putKv2("kv/app", { creds: { user: "alice-the-user", password: "pw-inner-SECRET-42", pin: 98765432 } });
  const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 2000 });
  const scope = new RedactionScope({ name: "job" });
  const value = (await calls((ref) => backend.read(parseReference(ref) as Extract<ReturnType<typeof parseReference>, { backend: "vault" }>), scope).answer({ op: "secret.get", ref: "vault:kv/data/app#creds" } as never)) as string;
  const creds = JSON.parse(value) as { user: string; password: string; pin: number };
  const printed = scope.text(`password=${creds.password} user=${creds.user} pin=${creds.pin} pretty=${JSON.stringify(creds, null, 2)}`);
  expect(printed).not.toContain("pw-inner-SECRET-42");
  expect(printed).not.toContain("alice-the-user");
  expect(printed).not.toContain("98765432");
});

test("JobCalls secret.get masks the parts of JSON text (a GCP payload), and leaves other text one value", async () => {
  const scope = new RedactionScope({ name: "job" });
  const jobCalls = calls(async (ref) => (ref === "gcp:projects/p/secrets/json" ? ' {"token":"gcp-inner-token-77","list":["list-item-secret"]}' : "plain-secret-value"), scope);
  await jobCalls.answer({ op: "secret.get", ref: "gcp:projects/p/secrets/json" } as never);
  await jobCalls.answer({ op: "secret.get", ref: "gcp:projects/p/secrets/plain" } as never);
  const printed = scope.text("gcp-inner-token-77 list-item-secret plain-secret-value");
  expect(printed).not.toContain("gcp-inner-token-77");
  expect(printed).not.toContain("list-item-secret");
  expect(printed).not.toContain("plain-secret-value");
});

test("JobCalls secret.get masks the parts of a GCP payload with a byte order mark, and its big integers as written", async () => {
  const scope = new RedactionScope({ name: "job" });
  const jobCalls = calls(async () => '\uFEFF{"token":"bom-inner-token-88","account":12345678901234567890}\n', scope);
  await jobCalls.answer({ op: "secret.get", ref: "gcp:projects/p/secrets/bom" } as never);
  expect(scope.text("token=bom-inner-token-88 account=12345678901234567890")).toBe("token=[REDACTED] account=[REDACTED]");
});

test("JobCalls secret.get of the same JSON value again costs nothing of the attempt's mask budget", async () => {
  const scope = new RedactionScope({ name: "job" });
  const jobCalls = calls(async () => JSON.stringify({ a: "part-one-value", b: "part-two-value", c: "part-three-value" }), scope);
  // 4 parts each (3 strings and the JSON text): 100 reads would pass the 256-part bound if each counted.
  for (let i = 0; i < 100; i++) await jobCalls.answer({ op: "secret.get", ref: "vault:kv/data/app#obj" } as never);
  expect(scope.text("part-two-value")).not.toContain("part-two-value");
});

test("JobCalls secret.get refuses a JSON value it cannot mask part by part, naming the reference, never the value", async () => {
  const scope = new RedactionScope({ name: "job" });
  const deep = `${"[".repeat(100)}"deep-secret-value"${"]".repeat(100)}`;
  const error = await calls(async () => deep, scope).answer({ op: "secret.get", ref: "vault:kv/data/deep#f" } as never).catch((e: unknown) => e as Error);
  expect(error).toMatchObject({ code: "secret_corrupt" });
  expect((error as Error).message).toContain("vault:kv/data/deep#f");
  expect((error as Error).message).not.toContain("deep-secret-value");
});
