// env: and file: references are off unless the config allows them (secretEnvNames, secretFileDir):
// a job, i.e. the controller, must not read the runner's API key, cloud credentials or key files.

import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretBackends } from "../../src/secrets/references/secret-backends.ts";
import { backendOptionsFromConfig } from "../../src/secrets/references/from-config.ts";
import { resolveConfig } from "../../src/config/resolve.ts";

const signal = new AbortController().signal;

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message };
  }
  return { code: "resolved", message: "" };
}

function resolveWith(backends: SecretBackends, raw: string) {
  return backends.resolve(raw, { jobId: "j1", attempt: 1, declared: [raw] }, signal);
}

function configFrom(env: Record<string, string>) {
  return backendOptionsFromConfig(resolveConfig({ scopes: ["runner"], argv: [], env }).config);
}

describe("SecretBackends env: references", () => {
  test("are refused by default, naming the reference and never the value", async () => {
    const backends = new SecretBackends({ registerSecret: () => {}, env: { EDGE_RUNNER_API_KEY: "runner-api-key-777", AWS_SECRET_ACCESS_KEY: "aws-secret-888" } });
    for (const raw of ["env:EDGE_RUNNER_API_KEY", "env:AWS_SECRET_ACCESS_KEY"]) {
      const { code, message } = await failure(resolveWith(backends, raw));
      expect(code).toBe("secret_permission_denied");
      expect(message).toContain(raw);
      expect(message).toContain("secretEnvNames");
      expect(message).not.toContain("runner-api-key-777");
      expect(message).not.toContain("aws-secret-888");
    }
    expect(backends.counts()).toContainEqual({ backend: "env", outcome: "denied", count: 2 });
    // Off is what /status and the page say.
    expect(backends.health().filter((h) => h.backend === "env" || h.backend === "file").map((h) => h.configured)).toEqual([false, false]);
  });

  test("read only the names secretEnvNames lists", async () => {
    const backends = new SecretBackends({ registerSecret: () => {}, envNames: ["DEPLOY_TOKEN"], env: { DEPLOY_TOKEN: "deploy-token-1", VAULT_TOKEN: "hvs.runner-own" } });
    expect(await resolveWith(backends, "env:DEPLOY_TOKEN")).toBe("deploy-token-1");
    expect(backends.health().find((h) => h.backend === "env")?.configured).toBe(true);
    expect((await failure(resolveWith(backends, "env:VAULT_TOKEN"))).code).toBe("secret_permission_denied");
  });
});

describe("SecretBackends file: references", () => {
  function layout() {
    const root = mkdtempSync(join(tmpdir(), "local-sources-"));
    const dir = join(root, "secrets");
    mkdirSync(dir);
    writeFileSync(join(dir, "db.txt"), "db-password-1\n");
    writeFileSync(join(root, "runner-key.pem"), "-----BEGIN PRIVATE KEY-----\nkey-bytes-999\n");
    symlinkSync(join(root, "runner-key.pem"), join(dir, "escape.pem"));
    symlinkSync(dir, join(root, "alias"));
    writeFileSync(join(dir, "big.txt"), Buffer.alloc(1024 * 1024 + 1, 97));
    return { root, dir };
  }

  test("are refused by default", async () => {
    const { dir, root } = layout();
    const backends = new SecretBackends({ registerSecret: () => {} });
    for (const raw of [`file:${dir}/db.txt`, `file:${root}/runner-key.pem`]) {
      const { code, message } = await failure(resolveWith(backends, raw));
      expect(code).toBe("secret_permission_denied");
      expect(message).toContain(raw);
      expect(message).toContain("secretFileDir");
    }
  });

  test("read only regular files that resolve into secretFileDir, bounded", async () => {
    const { dir, root } = layout();
    const backends = new SecretBackends({ registerSecret: () => {}, ...configFrom({ EDGE_RUNNER_SECRET_FILE_DIR: join(root, "alias") }) });
    expect(await resolveWith(backends, `file:${dir}/db.txt`)).toBe("db-password-1");
    expect(await resolveWith(backends, `file:${root}/alias/db.txt`)).toBe("db-password-1");
    for (const raw of [`file:${root}/runner-key.pem`, `file:${dir}/../runner-key.pem`, `file:${dir}/escape.pem`, `file:/etc/passwd`]) {
      const { code, message } = await failure(resolveWith(backends, raw));
      expect(code).toBe("secret_permission_denied");
      expect(message).toContain(raw);
      expect(message).not.toContain("key-bytes-999");
    }
    expect((await failure(resolveWith(backends, `file:${dir}/missing.txt`))).code).toBe("secret_not_found");
    expect((await failure(resolveWith(backends, `file:${dir}/big.txt`))).code).toBe("secret_reference_invalid");
    mkdirSync(join(dir, "sub"));
    expect((await failure(resolveWith(backends, `file:${dir}/sub`))).code).toBe("secret_reference_invalid");
    // A FIFO is not a regular file, and opening it must not wait for a writer.
    if (spawnSync("mkfifo", [join(dir, "pipe")]).status === 0) {
      expect((await failure(resolveWith(backends, `file:${dir}/pipe`))).code).toBe("secret_reference_invalid");
    }
  });
});

describe("backendOptionsFromConfig() for env: and file:", () => {
  test("refuses bad names, the runner's own settings, and a missing or root directory (config_invalid, exit 78)", () => {
    expect(configFrom({ EDGE_RUNNER_SECRET_ENV_NAMES: "A_TOKEN, B_TOKEN" }).envNames).toEqual(["A_TOKEN", "B_TOKEN"]);
    const fromFile = (secretEnvNames: unknown) => backendOptionsFromConfig(resolveConfig({ scopes: ["runner"], argv: ["--config-file", "runner.json"], env: {}, readFile: () => JSON.stringify({ secretEnvNames }) }).config);
    expect(fromFile(["A_TOKEN", "B_TOKEN", "A_TOKEN"]).envNames).toEqual(["A_TOKEN", "B_TOKEN"]);
    for (const bad of [[], [1], ["OK", { a: 1 }], Array(257).fill("X")]) {
      expect(() => fromFile(bad)).toThrow(/secretEnvNames/);
    }
    for (const env of [
      { EDGE_RUNNER_SECRET_ENV_NAMES: "1BAD" },
      { EDGE_RUNNER_SECRET_ENV_NAMES: "EDGE_RUNNER_API_KEY" },
      { EDGE_RUNNER_SECRET_ENV_NAMES: "," },
      { EDGE_RUNNER_SECRET_FILE_DIR: "/nonexistent-dir-4711" },
      { EDGE_RUNNER_SECRET_FILE_DIR: "/" },
      { EDGE_RUNNER_SECRET_FILE_DIR: "/etc/passwd" },
    ]) {
      let caught: unknown;
      try {
        configFrom(env);
      } catch (error) {
        caught = error;
      }
      expect((caught as { code?: string })?.code).toBe("config_invalid");
      expect((caught as { field?: string })?.field).toBe(Object.keys(env)[0] === "EDGE_RUNNER_SECRET_ENV_NAMES" ? "secretEnvNames" : "secretFileDir");
    }
  });
});
