import { expect, test } from "bun:test";
import { signManifest } from "../../src/plugin-bundles/sign-manifest.ts";
import { verifyBundle, verifySignedManifest } from "../../src/plugin-bundles/verify-bundle.ts";
import { codeOf, errorOf, makeKey, ring, signedBundle } from "./fixtures.ts";

const MAX = 1024 * 1024;
const expected = { name: "hello", version: "1.0.0" };

test("verifyBundle() accepts a bundle signed by a trusted key and returns the signed manifest", async () => {
  const key = await makeKey();
  const b = await signedBundle("hello", "1.0.0", key);
  const result = await verifyBundle({ bundle: b.bytes, signature: b.signature, manifest: b.manifest, keyRing: await ring(key), expected, maxBytes: MAX });
  expect(result.kid).toBe(key.kid);
  expect(result.manifest).toEqual(b.manifest);
});

test("verifyBundle() tampering matrix: each refusal has its own code", async () => {
  const key = await makeKey("key-a");
  const other = await makeKey("key-b");
  const keyRing = await ring(key);
  const b = await signedBundle("hello", "1.0.0", key);
  const base = { bundle: b.bytes, signature: b.signature, manifest: b.manifest, keyRing, expected, maxBytes: MAX };

  const changed = b.bytes.slice();
  changed[10] = (changed[10] ?? 0) ^ 1;
  const another = await signedBundle("hello", "1.0.0", key, 5);
  const byUnknown = await signedBundle("hello", "1.0.0", other);
  const big = await signedBundle("hello", "1.0.0", key, 2048);

  const cases: Array<[string, Parameters<typeof verifyBundle>[0], string]> = [
    ["unsigned", { ...base, signature: "" }, "bundle_unsigned"],
    ["one byte changed", { ...base, bundle: changed }, "bundle_digest_mismatch"],
    ["signature of another bundle", { ...base, signature: another.signature }, "bundle_signature_invalid"],
    ["garbage signature", { ...base, signature: "not.a.jws" }, "bundle_signature_invalid"],
    ["unknown key id", { ...base, signature: byUnknown.signature, manifest: byUnknown.manifest, bundle: byUnknown.bytes }, "bundle_key_unknown"],
    ["wrong name", { ...base, expected: { name: "other", version: "1.0.0" } }, "bundle_name_mismatch"],
    ["wrong version", { ...base, expected: { name: "hello", version: "2.0.0" } }, "bundle_version_mismatch"],
    ["oversized", { ...base, bundle: big.bytes, signature: big.signature, manifest: big.manifest, maxBytes: 1024 }, "bundle_too_large"],
    ["truncated bytes", { ...base, bundle: b.bytes.subarray(0, 20) }, "bundle_truncated"],
  ];
  for (const [label, options, code] of cases) {
    expect([label, await codeOf(() => verifyBundle(options))]).toEqual([label, code]);
  }
});

test("verifySignedManifest() refuses a key that was removed from the ring", async () => {
  const old = await makeKey("old");
  const b = await signedBundle("hello", "1.0.0", old);
  const newer = await makeKey("new");
  expect((await verifySignedManifest({ signature: b.signature, keyRing: await ring(old, newer), expected, maxBytes: MAX })).kid).toBe("old");
  const code = await codeOf(async () => verifySignedManifest({ signature: b.signature, keyRing: await ring(newer), expected, maxBytes: MAX }));
  expect(code).toBe("bundle_key_unknown");
});

test("verifySignedManifest() refuses a signature made with an expired key", async () => {
  const key = await makeKey("short-lived");
  const b = await signedBundle("hello", "1.0.0", key);
  const keyRing = await ring({ ...key.publicJwk, exp: 1_000 });
  const before = () => 999_000, after = () => 1_000_000;
  expect((await verifySignedManifest({ signature: b.signature, keyRing, expected, maxBytes: MAX, now: before })).kid).toBe("short-lived");
  expect(await codeOf(() => verifySignedManifest({ signature: b.signature, keyRing, expected, maxBytes: MAX, now: after }))).toBe("bundle_key_expired");
});

test("verifySignedManifest() refuses a signature whose header claims another typ", async () => {
  const key = await makeKey("k");
  const b = await signedBundle("hello", "1.0.0", key);
  const { CompactSign } = await import("jose");
  const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(b.manifest))).setProtectedHeader({ alg: "EdDSA", kid: "k", typ: "JWT" }).sign(key.key);
  const error = await errorOf(async () => verifySignedManifest({ signature: jwt, keyRing: await ring(key), expected, maxBytes: MAX }));
  expect(error.code).toBe("bundle_signature_invalid");
  expect(error.message).toContain('signature type is "JWT"');
});

test("verifySignedManifest() refuses a key id that is trusted but signed with a different key", async () => {
  const real = await makeKey("same-id");
  const forger = await makeKey("same-id");
  const b = await signedBundle("hello", "1.0.0", forger);
  expect(await codeOf(async () => verifySignedManifest({ signature: b.signature, keyRing: await ring(real), expected, maxBytes: MAX }))).toBe("bundle_signature_invalid");
});

test("verifySignedManifest() rotation: v1 by the old key, v2 by the new; removing the old key refuses v1 only", async () => {
  const old = await makeKey("2025");
  const next = await makeKey("2026");
  const v1 = await signedBundle("hello", "1.0.0", old);
  const v2 = await signedBundle("hello", "2.0.0", next);
  const both = await ring(old, next);
  expect((await verifyBundle({ bundle: v1.bytes, signature: v1.signature, keyRing: both, expected, maxBytes: MAX })).kid).toBe("2025");
  expect((await verifyBundle({ bundle: v2.bytes, signature: v2.signature, keyRing: both, expected: { name: "hello", version: "2.0.0" }, maxBytes: MAX })).kid).toBe("2026");
  const onlyNew = await ring(next);
  expect(await codeOf(() => verifyBundle({ bundle: v1.bytes, signature: v1.signature, keyRing: onlyNew, expected, maxBytes: MAX }))).toBe("bundle_key_unknown");
  expect((await verifyBundle({ bundle: v2.bytes, signature: v2.signature, keyRing: onlyNew, expected: { name: "hello", version: "2.0.0" }, maxBytes: MAX })).kid).toBe("2026");
});

test("verifySignedManifest() error messages name the bundle and quote values", async () => {
  const key = await makeKey("k1");
  const b = await signedBundle("hello", "1.0.0", key);
  const error = await errorOf(async () => verifySignedManifest({ signature: b.signature, keyRing: await ring(key), expected: { name: "hello", version: "9.9.9" }, maxBytes: MAX }));
  expect(error.message).toBe('Cannot verify bundle "hello@9.9.9": signed version is "1.0.0", expected "9.9.9"');
  // A re-signed manifest with an extra field is not a manifest this runner accepts.
  const odd = await signManifest({ ...b.manifest, extra: true } as never, key);
  expect(await codeOf(async () => verifySignedManifest({ signature: odd, keyRing: await ring(key), expected, maxBytes: MAX }))).toBe("bundle_signature_invalid");
});
