// The one rule for "is this usable PEM certificates", for every certificate file the runner and
// the reference controller read (caFile, s3CaFile, vaultCaFile, the controller's tlsCertFile; the
// doctor's TLS check): checked in plain JavaScript when the config is read, because node:tls is
// not loaded at start (test/performance), Node's createSecureContext skips a broken block without
// a word, and Bun's refuses the whole bundle only at the first connection. Text outside the
// blocks (comments) is allowed on lines of its own, as OpenSSL allows it; a block that is not one
// DER certificate, or not on lines of its own, is refused, not skipped. In util/ (the lowest layer) so platform/, storage/, secrets/, ops/ and
// reference-controller/ all use this same function.

import { isDerSequenceBase64, pemBlocks } from "./pem-blocks.ts";

/** Why `pem` is not usable PEM certificates (a CA bundle or a certificate chain); undefined when it is. */
export function pemCertificatesProblem(pem: string): string | undefined {
  let certificates = 0;
  for (const block of pemBlocks(pem)) {
    if (block === "unterminated") return unterminated(certificates);
    certificates++;
    if (!block.onOwnLines) return `block ${certificates}'s BEGIN or END line is not a line of its own (pasted on one line?)`;
    if (block.label !== "CERTIFICATE") return `block ${certificates} is a "${block.label}", not a CERTIFICATE`;
    if (!isDerSequenceBase64(block.body)) return `certificate ${certificates} is not valid PEM (its base64 is not one DER certificate)`;
  }
  if (certificates === 0) return pem.trim() === "" ? "the file is empty" : "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  return undefined;
}

function unterminated(certificatesBefore: number): string {
  return certificatesBefore === 0 ? "its first block has no matching END line (a cut-off file?)" : `a block after certificate ${certificatesBefore} has no matching END line`;
}
