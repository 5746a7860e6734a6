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
  expect(await keysCommand.run(["retire", second, "--key-dir", dir])).toBe(1);
  expect(await keysCommand.run(["retire", previous!, "--key-dir", dir])).toBe(0);
  expect((await RunnerKeyRing.load(dir)).keys.map((k) => k.kid)).toEqual([second]);
});
