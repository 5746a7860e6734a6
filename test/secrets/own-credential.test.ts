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
