// The one rule for a usable PEM bundle of CA certificates (caFile, s3CaFile, vaultCaFile): plain
// JavaScript, so it can run at start without node:tls; every block one DER certificate.

import { afterAll, describe, expect, test } from "bun:test";
import { pemCertificatesProblem } from "../../src/util/pem-certificates.ts";
import { caBundles } from "../helpers/bad-ca-bundles.ts";
import { tempDir } from "../helpers/harness.ts";

const tmp = tempDir("edge-runner-pem-");
afterAll(() => tmp.remove());
const { caPem, leafPem, bad } = caBundles(tmp.dir);

describe("pemCertificatesProblem()", () => {
  test("pemCertificatesProblem() accepts a CA, a bundle of two, and comments outside the blocks", () => {
    expect(pemCertificatesProblem(caPem)).toBeUndefined();
    expect(pemCertificatesProblem(caPem + leafPem)).toBeUndefined();
    expect(pemCertificatesProblem(`# our private CA\n${caPem}\n# the end\n`)).toBeUndefined();
  });

  test("pemCertificatesProblem() refuses an empty file, text, broken or cut-off blocks, a missing END and a key", () => {
    for (const [name, pem] of Object.entries(bad)) expect({ name, problem: pemCertificatesProblem(pem) }).toEqual({ name, problem: expect.any(String) });
  });

  test("pemCertificatesProblem() says which block is wrong and why", () => {
    expect(pemCertificatesProblem(bad["an empty file"]!)).toBe("the file is empty");
    expect(pemCertificatesProblem(bad["no PEM at all"]!)).toBe("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    expect(pemCertificatesProblem(bad["a certificate cut short (truncated file)"]!)).toBe("its first block has no matching END line (a cut-off file?)");
    expect(pemCertificatesProblem(bad["a good certificate then a broken one"]!)).toBe("certificate 2 is not valid PEM (its base64 is not one DER certificate)");
    expect(pemCertificatesProblem(bad["a good certificate then one with no END line"]!)).toBe("a block after certificate 1 has no matching END line");
    expect(pemCertificatesProblem(bad["a private key instead of a certificate"]!)).toBe('block 1 is a "PRIVATE KEY", not a CERTIFICATE');
  });
});
