// decryptInputSecrets() copies the job input around the markers it replaces: every key of the
// input survives the copy, including keys that name Object.prototype's own members.

import { expect, test } from "bun:test";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decryptInputSecrets } from "../../src/secrets/input-secrets.ts";
import { encryptToRunner } from "../../src/secrets/jwe.ts";
import { RunnerKeyRing, rotateRunnerKey } from "../../src/secrets/key-ring.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";

test('decryptInputSecrets() keeps a "__proto__" key of the input as a key (a $secret elsewhere makes it copy the input)', async () => {
  const dir = await mkdtemp(join(tmpdir(), "input-secrets-"));
  await rotateRunnerKey(dir, { modulusLength: 2048 });
  const ring = await RunnerKeyRing.load(dir);
  // JSON.parse makes "__proto__" an own key, as the controller's parsed job input does.
  const input = JSON.parse(`{"__proto__": {"region": "eu", "tags": ["a"]}, "constructor": 1, "db": {"password": {"$secret": ${JSON.stringify(await encryptToRunner("pw-proto-1", ring.publicJwks()[0]!))}}}}`) as Record<string, unknown>;
  const out = (await decryptInputSecrets(input, ring, new RedactionScope())) as Record<string, unknown>;
  expect(Object.keys(out)).toEqual(["__proto__", "constructor", "db"]);
  expect(Object.getOwnPropertyDescriptor(out, "__proto__")?.value).toEqual({ region: "eu", tags: ["a"] });
  expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  expect(Object.getOwnPropertyDescriptor(out, "constructor")?.value).toBe(1);
  expect(out.db).toEqual({ password: "pw-proto-1" });
  // The copy serializes as the input did (what the plugin worker is sent).
  expect(JSON.parse(JSON.stringify(out))).toEqual(JSON.parse(JSON.stringify({ ...input, db: { password: "pw-proto-1" } })));
});
