// The certificate meshStack registers as a runner's public key, checked by two X.509 readers that
// are not the code under test: node's X509Certificate and the openssl CLI.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selfSignedCertificate } from "../../src/secrets/self-signed-certificate.ts";

describe("selfSignedCertificate()", () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const now = new Date("2026-11-30T12:00:00Z");
  const pem = selfSignedCertificate({ privateKey, commonName: "edge-runner build-01", days: 365, now });

  test("is a PEM CERTIFICATE that node reads, self-signed by the runner's key, for its public key", () => {
    expect(pem).toStartWith("-----BEGIN CERTIFICATE-----\n");
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe("CN=edge-runner build-01");
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(publicKey)).toBe(true);
    expect(cert.publicKey.export({ type: "spki", format: "pem" })).toBe(publicKey.export({ type: "spki", format: "pem" }) as string);
    expect(new Date(cert.validTo).getTime() - now.getTime()).toBe(365 * 86_400_000);
    expect(cert.checkPrivateKey(privateKey)).toBe(true);
  });

  test("openssl parses it, verifies its self-signature and reports the same public key", () => {
    const dir = mkdtempSync(join(tmpdir(), "cert-"));
    try {
      const file = join(dir, "runner.crt");
      writeFileSync(file, pem);
      const text = spawnSync("openssl", ["x509", "-in", file, "-noout", "-text"], { encoding: "utf8" });
      expect(text.status).toBe(0);
      expect(text.stdout).toContain("Version: 3 (0x2)");
      expect(text.stdout).toContain("Signature Algorithm: sha256WithRSAEncryption");
      const pub = spawnSync("openssl", ["x509", "-in", file, "-noout", "-pubkey"], { encoding: "utf8" });
      expect(pub.stdout).toBe(publicKey.export({ type: "spki", format: "pem" }) as string);
      const verify = spawnSync("openssl", ["verify", "-CAfile", file, file], { encoding: "utf8" });
      expect(verify.stdout.trim()).toBe(`${file}: OK`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
