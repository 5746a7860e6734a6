// The one rule for secret files, used by the config reader, the admin token, the runner's key
// pair, the controller's store key and doctor.

import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSecretFile } from "../../src/config/secret-file.ts";
import { secretFileProblem } from "../../src/ops/doctor/file-safety.ts";
import { loadOrCreateAdminToken } from "../../src/reference-controller/tokens.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { checkPrivateKeyFile } from "../../src/secrets/runner-keys.ts";
import { secretFileRefusal } from "../../src/util/secret-file-rule.ts";

const file = (mode: number) => ({ mode: 0o100000 | mode, isFile: () => true });

test("secretFileRefusal() refuses any access for group or others, and anything but a regular file", () => {
  expect(secretFileRefusal("/k", file(0o600), "linux")).toBeUndefined();
  expect(secretFileRefusal("/k", file(0o400), "linux")).toBeUndefined();
  for (const mode of [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644]) {
    expect(secretFileRefusal("/k", file(mode), "linux")).toEqual({ reason: `mode ${mode.toString(8).padStart(4, "0")} lets other users read it`, fix: 'chmod 600 "/k"', octal: mode.toString(8).padStart(4, "0") });
  }
  expect(secretFileRefusal("/k", { mode: 0o40700, isFile: () => false }, "linux")).toEqual({ reason: "it is not a regular file" });
  expect(secretFileRefusal("/k", file(0o644), "win32")).toBeUndefined();
});

test("every reader of a secret file refuses the same group-readable file (no drifted copies of the rule)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "er-secret-rule-"));
  try {
    const path = join(dir, "secret");
    writeFileSync(path, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=\n");
    chmodSync(path, 0o640);
    expect(() => readSecretFile(path, "apiKeyFile")).toThrow("mode 0640 lets other users read it");
    expect(() => loadOrCreateAdminToken(path)).toThrow("mode 0640 lets other users read it");
    expect(() => AtRestCipher.fromKeyFile(path)).toThrow("mode 0640 lets other users read it");
    await expect(checkPrivateKeyFile(path)).rejects.toThrow("mode 0640 lets other users read it");
    expect(await secretFileProblem(path, process.getuid?.())).toMatchObject({ problem: `"${path}" has mode 0640: other users can access it` });
    chmodSync(path, 0o600);
    expect(readSecretFile(path, "apiKeyFile")).toBe("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=");
    expect(await secretFileProblem(path, process.getuid?.())).toBeUndefined();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
