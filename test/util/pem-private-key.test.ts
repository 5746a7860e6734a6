// The rule for a PEM private key file (the controller's tlsKeyFile): exactly one unencrypted key
// block whose base64 is one DER structure; plain JavaScript, and no problem quotes the key.

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { pemPrivateKeyProblem } from "../../src/util/pem-private-key.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";
import { tempDir } from "../helpers/harness.ts";

const tmp = tempDir("edge-runner-pem-key-");
afterAll(() => tmp.remove());
const made = makePrivateCa(tmp.dir);
const pkcs8 = readFileSync(made.keyFile, "utf8");
const certPem = readFileSync(made.certFile, "utf8");

/** A key openssl writes in another form: `args` after the command, the key to `out`. */
function openssl(name: string, args: string[]): string {
  const out = path.join(tmp.dir, name);
  const run = spawnSync("openssl", [...args, "-out", out], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr}`);
  return readFileSync(out, "utf8");
}

/** Whether this runtime's crypto takes `pem` as a private key. */
function loads(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

describe("pemPrivateKeyProblem()", () => {
  test("pemPrivateKeyProblem() accepts PKCS#8, PKCS#1 (RSA), SEC1 (EC) and EC parameters before the key", () => {
    const rsa = openssl("rsa.pem", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
    const pkcs1 = openssl("rsa1.pem", ["rsa", "-in", path.join(tmp.dir, "rsa.pem"), "-traditional"]);
    const ecWithParameters = openssl("ec.pem", ["ecparam", "-name", "prime256v1", "-genkey"]);
    expect(pkcs1).toStartWith("-----BEGIN RSA PRIVATE KEY-----");
    expect(ecWithParameters).toStartWith("-----BEGIN EC PARAMETERS-----");
    expect(ecWithParameters).toContain("-----BEGIN EC PRIVATE KEY-----");
    for (const [name, pem] of Object.entries({ pkcs8, rsa, pkcs1, ecWithParameters, "with a comment": `# the controller's key\n${pkcs8}` })) {
      expect({ name, problem: pemPrivateKeyProblem(pem) }).toEqual({ name, problem: undefined });
    }
  });

  test("pemPrivateKeyProblem() refuses a key whose BEGIN or END line is not a line of its own, as node:crypto does; blanks after a marker, CRLF and a comment line pass", () => {
    const [begin, ...rest] = pkcs8.trim().split("\n");
    const end = rest.pop()!;
    const refused: Record<string, string> = {
      "on one line": `${begin}${rest.join("")}${end}\n`,
      "the base64 after BEGIN on its line": `${begin}${rest.join("\n")}\n${end}\n`,
      "END after the last base64 on its line": `${begin}\n${rest.join("\n")}${end}\n`,
      "text after END on its line": `${begin}\n${rest.join("\n")}\n${end} # the controller's key\n`,
      "text before BEGIN on its line": `key: ${pkcs8}`,
      "an indented END line": `${begin}\n${rest.join("\n")}\n  ${end}\n`,
      "old Mac line ends (CR only)": pkcs8.replace(/\n/g, "\r"),
    };
    for (const [name, pem] of Object.entries(refused)) {
      // The runtime (BoringSSL on Bun, OpenSSL on Node) refuses each at first use.
      expect({ name, loads: loads(pem) }).toEqual({ name, loads: false });
      const said = pemPrivateKeyProblem(pem);
      expect({ name, said }).toEqual({ name, said: "a block's BEGIN or END line is not a line of its own (the key pasted on one line?)" });
    }
    const accepted: Record<string, string> = {
      "blanks after BEGIN and END": `${begin} \t\n${rest.join("\n")}\n${end}  \n`,
      "CRLF line ends": pkcs8.replace(/\n/g, "\r\n"),
      "no newline after END": pkcs8.trimEnd(),
      "comment lines around": `# ours\n${pkcs8}# end\n`,
    };
    for (const [name, pem] of Object.entries(accepted)) {
      expect({ name, loads: loads(pem) }).toEqual({ name, loads: true });
      expect({ name, problem: pemPrivateKeyProblem(pem) }).toEqual({ name, problem: undefined });
    }
  });

  test("pemPrivateKeyProblem() says what is wrong, and never quotes the key", () => {
    const body = pkcs8.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
    const cases: Record<string, [string, string]> = {
      "an empty file": ["", "the file is empty"],
      "text, no PEM": ["not a key\n", "it holds no PEM private key (-----BEGIN PRIVATE KEY-----)"],
      "a key cut short": [pkcs8.slice(0, pkcs8.length - 30), "a block has no matching END line (a cut-off file?)"],
      "a key with a line cut out": [pkcs8.replace(`${body[1]}\n`, ""), "the private key is not valid PEM (its base64 is not one DER key)"],
      "corrupt base64": [pkcs8.replace(body[0]!, `${body[0]!.slice(0, 10)}*${body[0]!.slice(11)}`), "the private key is not valid PEM (its base64 is not one DER key)"],
      "two keys": [pkcs8 + pkcs8, "it holds more than one private key; the file takes exactly one"],
      "a certificate": [certPem, "it holds a CERTIFICATE, not a private key (the certificate and key files swapped?)"],
      "a PKCS#8 encrypted key": [pkcs8.replace(/PRIVATE KEY/g, "ENCRYPTED PRIVATE KEY"), "the private key is encrypted; the controller takes an unencrypted key (file mode 0600 protects it)"],
      "a legacy encrypted key": [`-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n${body.join("\n")}\n-----END RSA PRIVATE KEY-----\n`, "the private key is encrypted; the controller takes an unencrypted key (file mode 0600 protects it)"],
      "a public key": [pkcs8.replace(/PRIVATE KEY/g, "PUBLIC KEY"), "it holds a block that is not a private key (expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"],
    };
    for (const [name, [pem, problem]] of Object.entries(cases)) {
      const said = pemPrivateKeyProblem(pem);
      expect({ name, said }).toEqual({ name, said: problem });
      for (const line of body) expect({ name, quotes: said!.includes(line.slice(0, 12)) }).toEqual({ name, quotes: false });
    }
  });
});
