import { expect, test } from "bun:test";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keysCommand } from "../../src/cli/keys-command.ts";
import { RunnerKeyRing, rotateRunnerKey } from "../../src/secrets/key-ring.ts";

test("keysCommand.run() lists and retires keys, and answers usage errors with 64", async () => {
  const dir = await mkdtemp(join(tmpdir(), "keys-cli-"));
  await rotateRunnerKey(dir, { modulusLength: 2048 });
  const { current: second, previous } = await rotateRunnerKey(dir, { modulusLength: 2048 });
  expect(await keysCommand.run(["list", "--key-dir", dir, "--json"])).toBe(0);
  expect(await keysCommand.run(["retire", "--key-dir", dir])).toBe(64);
  expect(await keysCommand.run(["spin", "--key-dir", dir])).toBe(64);
  // Key ids are base64url thumbprints: one in 64 starts with "-", so they go after "--".
  expect(await keysCommand.run(["retire", "--key-dir", dir, "--", second])).toBe(1);
  expect(await keysCommand.run(["retire", "--key-dir", dir, "--", previous!])).toBe(0);
  expect((await RunnerKeyRing.load(dir)).keys.map((k) => k.kid)).toEqual([second]);
});

test("keygenCommand.run() --force over an existing runner key keeps the old one in the ring", async () => {
  const { keygenCommand } = await import("../../src/cli/keygen-command.ts");
  const dir = await mkdtemp(join(tmpdir(), "keygen-force-"));
  expect(await keygenCommand.run(["--out-dir", dir])).toBe(0);
  const first = (await RunnerKeyRing.load(dir)).current!.kid;
  expect(await keygenCommand.run(["--out-dir", dir, "--force"])).toBe(0);
  const ring = await RunnerKeyRing.load(dir);
  expect(ring.keys.map((k) => [k.kid === first, k.current])).toEqual([[false, true], [true, false]]);
}, 60_000);

test("keysCommand.run() takes a key id that starts with \"-\" (one RFC 7638 id in 64) as the id, not as a flag", async () => {
  const dir = await mkdtemp(join(tmpdir(), "keys-dash-"));
  await rotateRunnerKey(dir);
  const dashed = `-${"A".repeat(42)}`; // the shape of a SHA-256 thumbprint in base64url
  // Not a usage error (64): the id is looked up, and this one is not in the ring (1).
  expect(await keysCommand.run(["retire", "--key-dir", dir, dashed])).toBe(1);
  expect(await keysCommand.run(["retire", dashed, "--key-dir", dir])).toBe(1);
  // A mistyped flag is still a usage error.
  expect(await keysCommand.run(["retire", "--key-dri", dir])).toBe(64);
});
