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
