// SHA256SUMS, its detached JWS, and the verified download that `update` shares with install.sh.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatChecksums, parseChecksums, sha256Hex } from "../../src/ops/checksums.ts";
import { signDetached, verifyDetached } from "../../src/ops/release-signature.ts";
import { downloadVerified } from "../../src/ops/verified-download.ts";
import { makeDevKey, run, type DevKey } from "./release-fixture.ts";

let work: string;
let key: DevKey;
let other: DevKey;
const enc = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "edge-runner-verify-test-"));
  key = await makeDevKey(work, "k1");
  other = await makeDevKey(work, "k2");
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

test("formatChecksums() writes sha256sum lines sorted by name that parseChecksums() reads back", () => {
  const text = formatChecksums(new Map([["b", enc("two")], ["a", enc("one")]]));
  expect(text).toBe(`${sha256Hex(enc("one"))}  a\n${sha256Hex(enc("two"))}  b\n`);
  expect(parseChecksums(text)).toEqual(new Map([["a", sha256Hex(enc("one"))], ["b", sha256Hex(enc("two"))]]));
});

test("parseChecksums() refuses malformed lines and duplicate names", () => {
  expect(() => parseChecksums("xyz  a\n")).toThrow('Cannot read "SHA256SUMS": line 1 is not "<sha256>  <file name>"');
  const line = `${"0".repeat(64)}  a\n`;
  expect(() => parseChecksums(line + line)).toThrow('"a" is listed twice');
  expect(() => parseChecksums(`${"0".repeat(64)}  ../etc/passwd\n`)).toThrow("line 1");
});

test("signDetached() output verifies with verifyDetached() and names the key", async () => {
  const jws = await signDetached(enc("payload"), key.privateJwk);
  expect(jws).toMatch(/^[\w-]+\.\.[\w-]+$/);
  expect(await verifyDetached(enc("payload"), jws, [other.publicJwk, key.publicJwk])).toBe("k1");
  expect(await verifyDetached(enc("payload"), jws, [key.publicPem])).toBe("");
});

test("verifyDetached() refuses a changed byte, another key, no key and a malformed signature", async () => {
  const jws = await signDetached(enc("payload"), key.privateJwk);
  await expect(verifyDetached(enc("paylaod"), jws, [key.publicJwk])).rejects.toThrow('Cannot verify "SHA256SUMS": signature does not match any trusted release key');
  await expect(verifyDetached(enc("payload"), jws, [other.publicJwk])).rejects.toMatchObject({ code: "release_unverified" });
  await expect(verifyDetached(enc("payload"), jws, [])).rejects.toThrow("no trusted release key");
  await expect(verifyDetached(enc("payload"), "not-a-jws", [key.publicJwk])).rejects.toThrow("not a compact JWS with a detached payload");
});

test("signDetached() output verifies with openssl pkeyutl the way install.sh checks it", async () => {
  const payload = enc("aa  edge-runner-linux-x64\n");
  const [header, signature] = (await signDetached(payload, key.privateJwk)).split("..") as [string, string];
  writeFileSync(join(work, "input"), Buffer.concat([Buffer.from(`${header}.`), payload]));
  writeFileSync(join(work, "sig"), Buffer.from(signature, "base64url"));
  const result = await run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key.pemFile, "-rawin", "-in", join(work, "input"), "-sigfile", join(work, "sig")]);
  expect(result.stdout).toContain("Signature Verified Successfully");
});

/** A release in memory behind a fake fetch; `files` may be changed per test. */
async function fakeRelease(signer: DevKey = key) {
  const files = new Map<string, Uint8Array>([["edge-runner-linux-x64", enc("#!/bin/sh\necho new\n")]]);
  const sums = enc(formatChecksums(files));
  files.set("SHA256SUMS", sums);
  files.set("SHA256SUMS.jws", enc(await signDetached(sums, signer.privateJwk)));
  const requested: string[] = [];
  const fetcher = (async (url: string | URL | Request) => {
    const name = String(url).split("/").pop() as string;
    requested.push(name);
    const body = files.get(name);
    return body === undefined ? new Response("no", { status: 404 }) : new Response(new Uint8Array(body));
  }) as typeof fetch;
  return { files, fetch: fetcher, requested };
}

test("downloadVerified() returns the asset once signature and checksum match", async () => {
  const release = await fakeRelease();
  const asset = await downloadVerified({ source: "https://releases.example/v1/", asset: "edge-runner-linux-x64", keys: [key.publicJwk], fetch: release.fetch });
  expect(new TextDecoder().decode(asset.bytes)).toContain("echo new");
  expect(asset.signedBy).toBe("k1");
});

test("downloadVerified() refuses a tampered asset, a tampered SHA256SUMS, a foreign signature and an unlisted asset", async () => {
  const options = (fetcher: typeof fetch) => ({ source: "https://releases.example", asset: "edge-runner-linux-x64", keys: [key.publicJwk], fetch: fetcher });
  const tamperedAsset = await fakeRelease();
  tamperedAsset.files.set("edge-runner-linux-x64", enc("#!/bin/sh\necho evil\n"));
  await expect(downloadVerified(options(tamperedAsset.fetch))).rejects.toThrow(/Cannot verify "edge-runner-linux-x64": SHA-256 is [0-9a-f]{64}, SHA256SUMS says/);

  const tamperedSums = await fakeRelease();
  tamperedSums.files.set("SHA256SUMS", enc(`${sha256Hex(enc("evil"))}  edge-runner-linux-x64\n`));
  await expect(downloadVerified(options(tamperedSums.fetch))).rejects.toThrow("signature does not match any trusted release key");
  // The asset is never fetched when the signature fails.
  expect(tamperedSums.requested).not.toContain("edge-runner-linux-x64");

  const foreign = await fakeRelease(other);
  await expect(downloadVerified(options(foreign.fetch))).rejects.toMatchObject({ code: "release_unverified" });

  const release = await fakeRelease();
  await expect(downloadVerified({ ...options(release.fetch), asset: "edge-runner-linux-arm64" })).rejects.toThrow('Cannot verify "edge-runner-linux-arm64": it is not listed in SHA256SUMS');
});

test("downloadVerified() reports an HTTP error as download_failed naming the URL", async () => {
  const fetcher = (async () => new Response("gone", { status: 404 })) as unknown as typeof fetch;
  await expect(downloadVerified({ source: "https://releases.example", asset: "x", keys: [key.publicJwk], fetch: fetcher })).rejects.toMatchObject({
    code: "download_failed",
    message: expect.stringContaining('"https://releases.example/SHA256SUMS": HTTP 404'),
  });
});

test("downloadVerified() from a local directory refuses an 8 GiB SHA256SUMS by its size (download_failed naming it and the cap), never reading it", async () => {
  const dir = mkdtempSync(join(work, "local-release-"));
  writeFileSync(join(dir, "SHA256SUMS"), "");
  truncateSync(join(dir, "SHA256SUMS"), 8 * 1024 ** 3);
  writeFileSync(join(dir, "SHA256SUMS.jws"), "x");
  await expect(downloadVerified({ source: dir, asset: "edge-runner-linux-x64", keys: [key.publicJwk] })).rejects.toMatchObject({
    code: "download_failed",
    message: `Cannot read release file "${join(dir, "SHA256SUMS")}": The file "${join(dir, "SHA256SUMS")}" is ${8 * 1024 ** 3} bytes, over the cap of 65536 bytes for it; not read`,
  });
});
