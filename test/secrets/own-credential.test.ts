// The one rule for "this value holds the runner's own credential" (own-credential.ts): the forms a
// stored copy takes are found, and ordinary values are not refused.

import { expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { holdsOwnCredential } from "../../src/secrets/references/own-credential.ts";

const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;

test("holdsOwnCredential() keeps ordinary values: a short credential only as the whole value, no empty credential, another key", () => {
  expect(holdsOwnCredential("web", ["web-1"])).toBe(false);
  expect(holdsOwnCredential("the role web-1 runs", ["web-1"])).toBe(false);
  expect(holdsOwnCredential("anything", [""])).toBe(false);
  expect(holdsOwnCredential("", [])).toBe(false);
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  expect(holdsOwnCredential(JSON.stringify({ private_key: other }), [key])).toBe(false);
  expect(holdsOwnCredential("YWJjZGVmZ2g=", ["hvs.0123456789"])).toBe(false);
});

test("holdsOwnCredential() finds a credential inside text, trimmed, JSON-escaped, re-wrapped and as base64", () => {
  expect(holdsOwnCredential(" web-1\n", ["web-1"])).toBe(true);
  expect(holdsOwnCredential('{"t":"hvs.0123456789"}', ["hvs.0123456789"])).toBe(true);
  expect(holdsOwnCredential(JSON.stringify({ private_key: key }), [key])).toBe(true);
  expect(holdsOwnCredential(JSON.stringify({ file: JSON.stringify({ private_key: key }) }), [key])).toBe(true);
  expect(holdsOwnCredential(key.replaceAll("\n", "\r\n"), [key])).toBe(true);
  expect(holdsOwnCredential(Buffer.from(JSON.stringify({ private_key: key })).toString("base64"), [key])).toBe(true);
  expect(holdsOwnCredential(Buffer.from("hvs.0123456789\n").toString("base64"), ["hvs.0123456789"])).toBe(true);
});

test("holdsOwnCredential() finds base64 without padding, in the URL-safe alphabet, and as a run inside JSON", () => {
  // A review's probe: each of these was handed to the job (only padded, standard, whole-value base64 was decoded).
  const token = "hvs.CAESIJ2x7Vq3ZtY0mWbN1c8pQrS4uV5wX6yZ7aB8cD9eF0gHGh4KHGh2cy5aQ1JzVjNrUjNxWXpQdFV3Tm9oTXc";
  const unpadded = Buffer.from(token).toString("base64").replace(/=+$/, "");
  expect(unpadded.length % 4).not.toBe(0);
  expect(holdsOwnCredential(unpadded, [token])).toBe(true);
  expect(holdsOwnCredential(Buffer.from(token + "??>").toString("base64url"), [token])).toBe(true);
  expect(holdsOwnCredential(JSON.stringify({ token: Buffer.from(token + "\n").toString("base64") }), [token])).toBe(true);
  // Ordinary words and encoded other values are not refused.
  expect(holdsOwnCredential(`the quick brown fox ${"abcdefghijklmnop".repeat(3)} ${Buffer.from("another value entirely").toString("base64")}`, [token])).toBe(false);
});

// A review's probe (not fixed then): hex, percent-encoding and base64 of base64 were handed to the job.
const token = "hvs.CAESIJ2x7Vq3ZtY0mWbN1c8pQrS4uV5wX6yZ7aB8cD9eF0gHGh4KHGh2cy5aQ1JzVjNrUjNxWXpQdFV3Tm9oTXc";
const keyFile = JSON.stringify({ type: "service_account", client_email: "runner@p.iam.gserviceaccount.com", private_key: key });
const b64 = (text: string | Buffer) => Buffer.from(text).toString("base64");
const hex = (text: string | Buffer) => Buffer.from(text).toString("hex");
/** Every byte as %XX, as a tool that escapes everything (or someone avoiding a match) writes it. */
const percentAll = (text: string) => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`).join("");

test("holdsOwnCredential() finds a credential stored as hex: either case, dumped by xxd -p or od, with colons, inside JSON, shifted by a hex letter", () => {
  expect(holdsOwnCredential(hex(token), [token])).toBe(true);
  expect(holdsOwnCredential(hex(`${token}\n`).toUpperCase(), [token])).toBe(true);
  expect(holdsOwnCredential(`0x${hex(token)}`, [token])).toBe(true);
  // xxd -p: 60 digits a line; od -An -tx1: 16 bytes a line, space-separated, indented.
  expect(holdsOwnCredential(hex(keyFile).replace(/(.{60})/g, "$1\n"), [key])).toBe(true);
  const od = (Buffer.from(`${token}\n`).toString("hex").match(/.{2}/g) ?? []).map((p, i) => (i % 16 === 0 ? "\n " : " ") + p).join("");
  expect(holdsOwnCredential(od, [token])).toBe(true);
  expect(holdsOwnCredential((hex(token).match(/../g) ?? []).join(":"), [token])).toBe(true);
  expect(holdsOwnCredential((hex(token).match(/../g) ?? []).map((p) => `\\x${p}`).join(""), [token])).toBe(true);
  expect(holdsOwnCredential(JSON.stringify({ token_hex: hex(token) }), [token])).toBe(true);
  expect(holdsOwnCredential(`deadbeefa${hex(token)}`, [token])).toBe(true);
  // A short custom role_id as the whole value.
  expect(holdsOwnCredential(hex("role-1\n"), ["role-1"])).toBe(true);
});

test("holdsOwnCredential() finds a credential stored percent-encoded: a key file in a form or URL, every byte escaped, escaped twice", () => {
  // encodeURIComponent escapes the key's +, / and = and its line breaks: the PEM body is not there as it is.
  expect(holdsOwnCredential(`credentials=${encodeURIComponent(keyFile)}&project=p`, [key])).toBe(true);
  expect(holdsOwnCredential(percentAll(token), [token])).toBe(true);
  expect(holdsOwnCredential(percentAll(token).toLowerCase(), [token])).toBe(true);
  expect(holdsOwnCredential(percentAll(token).replace(/%/g, "%25"), [token])).toBe(true);
  expect(holdsOwnCredential(percentAll("role-1"), ["role-1"])).toBe(true);
});

test("holdsOwnCredential() finds a credential under layers of encodings: base64 of base64 (a Kubernetes Secret of a base64 key file), hex of base64, base64 of hex", () => {
  expect(holdsOwnCredential(b64(b64(token)), [token])).toBe(true);
  expect(holdsOwnCredential(b64(b64(keyFile)), [key])).toBe(true);
  const manifest = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: gcp\ndata:\n  GOOGLE_CREDENTIALS: ${b64(b64(keyFile))}\n`;
  expect(holdsOwnCredential(b64(manifest), [key])).toBe(true);
  expect(holdsOwnCredential(hex(b64(token)), [token])).toBe(true);
  expect(holdsOwnCredential(b64(hex(token)), [token])).toBe(true);
  expect(holdsOwnCredential(b64(encodeURIComponent(keyFile)), [key])).toBe(true);
  expect(holdsOwnCredential(b64(b64("role-1")), ["role-1"])).toBe(true);
  // A short role_id's own base64 is under 12 characters ("cm9sZS0x"): the whole value is decoded from 4.
  expect(holdsOwnCredential(b64("role-1"), ["role-1"])).toBe(true);
});

test("holdsOwnCredential() finds a credential in base64 of UTF-16LE (PowerShell's [Text.Encoding]::Unicode) and of bytes that are not UTF-8", () => {
  expect(holdsOwnCredential(b64(Buffer.from(token, "utf16le")), [token])).toBe(true);
  expect(holdsOwnCredential(b64(Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x81]), Buffer.from(token), Buffer.from([0xc3])])), [token])).toBe(true);
});

test("holdsOwnCredential() refuses no ordinary value: digests, UUIDs, URLs, JWTs, other tokens in every encoding and layer", () => {
  const own = [token, "role-1", "2b3c4d5e-1111-4222-8333-944455566677", key];
  const other = "hvs.CAESIOtherTokenOfSomeoneElse0123456789abcdefghijKLMNOPQRSTUVWXYZ";
  const ordinary = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "0123456789abcdef0123456789ABCDEF",
    "6f1d4a52-9c3e-4b1a-8f7e-2d5c6b7a8e9f",
    "https://example.com/a%20path?q=caf%C3%A9&next=%2Fhome%3Fx%3D1",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "postgres://app:s3cr%40t@db.internal:5432/app?sslmode=require",
    "role-12", "role", "web-1", "cafe", "12345678",
    other, b64(other), b64(b64(other)), hex(other), percentAll(other), hex(b64(other)),
    JSON.stringify({ private_key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) }),
    `the quick brown fox ${"abcdefghijklmnop".repeat(3)} ${b64("another value entirely")}`,
  ];
  for (const value of ordinary) expect({ value, holds: holdsOwnCredential(value, own) }).toEqual({ value, holds: false });
});

test("holdsOwnCredential() stays bounded on a 1 MiB value that decodes at every layer, and still finds a credential at its end", () => {
  const own = [token, "role-1", key, ...Array.from({ length: 64 }, (_, i) => `hvs.an-older-token-${i}-0123456789abcdefghij`)];
  // Base64 of base64 of hex of percent-encoded text, repeated: every run decodes three layers deep.
  const unit = b64(b64(hex(percentAll("abcdefgh"))));
  const layered = `${unit} `.repeat(Math.floor((1024 * 1024) / (unit.length + 1)));
  // Short runs that are hex and base64 at once: the most decoded texts per character.
  const runs = "0123456789abcdef ".repeat(60_000);
  for (const value of [layered, runs]) {
    const started = performance.now();
    expect(holdsOwnCredential(value, own)).toBe(false);
    expect(holdsOwnCredential(`${value} ${b64(b64(token))}`, own)).toBe(true);
    expect(performance.now() - started).toBeLessThan(5_000);
  }
});
