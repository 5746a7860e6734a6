// The rule for a PEM private key file (the reference controller's tlsKeyFile): exactly one
// unencrypted private-key block, on lines of its own, whose base64 is one DER structure, checked
// when the config is read so a cut-off, corrupt or one-line key is a config error naming its
// field, not a crash or a TLS failure when the controller starts serving. The text is a secret:
// no problem this returns quotes any of it.

import { isDerSequenceBase64, pemBlocks } from "./pem-blocks.ts";

/** The labels Node, Bun and Deno take as a key without a passphrase (PKCS#8, PKCS#1, SEC1). */
const KEY_LABELS: ReadonlySet<string> = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);

/** Why `pem` is not one usable PEM private key; undefined when it is. Never quotes the text. */
export function pemPrivateKeyProblem(pem: string): string | undefined {
  let keys = 0;
  for (const block of pemBlocks(pem)) {
    if (block === "unterminated") return "a block has no matching END line (a cut-off file?)";
    if (!block.onOwnLines) return "a block's BEGIN or END line is not a line of its own (the key pasted on one line?)";
    // `openssl ecparam -genkey` writes the curve's parameters before the key; OpenSSL passes over them.
    if (block.label === "EC PARAMETERS") continue;
    if (block.label === "ENCRYPTED PRIVATE KEY" || /^Proc-Type:.*ENCRYPTED/m.test(block.body)) return "the private key is encrypted; the controller takes an unencrypted key (file mode 0600 protects it)";
    if (block.label === "CERTIFICATE") return "it holds a CERTIFICATE, not a private key (the certificate and key files swapped?)";
    if (!KEY_LABELS.has(block.label)) return "it holds a block that is not a private key (expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)";
    keys++;
    if (keys > 1) return "it holds more than one private key; the file takes exactly one";
    if (!isDerSequenceBase64(block.body)) return "the private key is not valid PEM (its base64 is not one DER key)";
  }
  if (keys === 0) return pem.trim() === "" ? "the file is empty" : "it holds no PEM private key (-----BEGIN PRIVATE KEY-----)";
  return undefined;
}
