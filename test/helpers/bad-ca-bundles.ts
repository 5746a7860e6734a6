// CA bundles the one PEM rule (src/util/pem-certificates.ts) must refuse, next to a good private
// CA, for the tests of every option that names a bundle (caFile, s3CaFile, vaultCaFile).

import { readFileSync } from "node:fs";
import { makePrivateCa } from "./private-ca.ts";

export interface CaBundles {
  caFile: string;
  caPem: string;
  leafPem: string;
  /** Name → text that is not a usable bundle of CA certificates. */
  bad: Record<string, string>;
}

/** A private CA made in `dir`, and bundles built from it that are broken in the ways seen in the field. */
export function caBundles(dir: string): CaBundles {
  const made = makePrivateCa(dir);
  const caPem = readFileSync(made.caFile, "utf8");
  const leafPem = readFileSync(made.certFile, "utf8");
  const [head, ...bodyLines] = caPem.trim().split("\n");
  return {
    caFile: made.caFile,
    caPem,
    leafPem,
    bad: {
      "an empty file": "",
      "no PEM at all": "just some text\n",
      "markers around text that is not base64": "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n",
      "a certificate with a line cut out": [head, ...bodyLines.filter((_, i) => i !== 2)].join("\n") + "\n",
      "a certificate cut short (truncated file)": caPem.slice(0, Math.floor(caPem.length / 2)),
      "a good certificate then a broken one": caPem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      "a good certificate then one with no END line": caPem + caPem.replace("-----END CERTIFICATE-----", ""),
      "a block with no END line then a good certificate": "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n" + caPem,
      "a private key instead of a certificate": readFileSync(made.keyFile, "utf8"),
      // Node and Bun refuse both ("no start line"); the markers alone used to pass them.
      "a certificate pasted on one line": `${head}${bodyLines.slice(0, -1).join("")}${bodyLines.at(-1)}\n`,
      "a good certificate then one with text after its END line": `${caPem}${caPem.trim()} # expires 2030\n`,
    },
  };
}
