// A JSON parser's message quotes part of the text it could not parse (Bun: `Unexpected identifier
// "k-SEKRET…"`; Node: `…""apiKey": k-SEKRET-1"… is not valid JSON`). A config file holds the API
// key or admin token, a signing key file its private key: an error about either must say where
// the text broke, never quote it (issue 8 item 2, "error messages"). Failed before the fix.

import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/resolve.ts";
import { loadSigningKey } from "../../src/plugin-bundles/signing-keys.ts";
import { jsonSyntaxProblem } from "../../src/util/json-syntax.ts";

const KEY = "kSEKRETapikey0123456789";
/** Any 5 characters of the key in a row. */
const pieces = (value: string) => Array.from({ length: value.length - 4 }, (_, i) => value.slice(i, i + 5));
const leaked = (message: string, value: string) => pieces(value).filter((p) => message.includes(p));

const BROKEN = [
  `{"apiKey": ${KEY}}`,
  `{"apiKey": "${KEY}" "controllerUrl": "http://127.0.0.1:1"}`,
  `{\n  "controllerUrl": "http://127.0.0.1:1",\n  "apiKey": "${KEY}",\n}`,
  `{'apiKey': '${KEY}'}`,
];

test("a config file that is not JSON is refused without quoting it", () => {
  for (const text of BROKEN) {
    let message = "";
    try {
      resolveConfig({ scopes: ["runner"], argv: ["--config-file", "/etc/edge-runner/runner.json"], env: {}, readFile: () => text });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toStartWith('Cannot parse config file "/etc/edge-runner/runner.json" as JSON');
    expect(leaked(message, KEY)).toEqual([]);
  }
});

test("a signing key file that is not JSON is refused without quoting it", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "signing-key-")), "signing.key.jwk");
  const d = "SEKRETd0123456789abcdefghijklmnopqrstuvwx";
  for (const text of [`{"kty":"OKP","crv":"Ed25519","d":${d}}`, `{"kty":"OKP","crv":"Ed25519","d":"${d}" "x":"y"}`]) {
    writeFileSync(file, text, { mode: 0o600 });
    chmodSync(file, 0o600);
    const message = await loadSigningKey(file).then(() => "", (error: Error) => error.message);
    expect(message).toStartWith(`Cannot read signing key "${file}"`);
    expect(leaked(message, d)).toEqual([]);
  }
});

test("jsonSyntaxProblem() gives the line and column when the parser names a position, and nothing of the text", () => {
  const text = '{\n  "a": 1\n  "b": 2\n}';
  let error: unknown;
  try {
    JSON.parse(text);
  } catch (e) {
    error = e;
  }
  expect(jsonSyntaxProblem(new SyntaxError("Expected ',' or '}' after property value in JSON at position 13"), text)).toBe("not valid JSON (line 3, column 3)");
  expect(jsonSyntaxProblem(error, text)).toStartWith("not valid JSON");
  expect(jsonSyntaxProblem(new SyntaxError(`Unexpected token 'k', ..."apiKey": k-SEKRET"... is not valid JSON`), text)).toBe("not valid JSON");
});
