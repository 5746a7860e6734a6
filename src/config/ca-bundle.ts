// Reading a CA bundle option (caFile, s3CaFile, vaultCaFile): one reader, so each fails the same
// way at start, with config_invalid (exit 78) naming its field, before any network call, instead
// of late and differently per runtime at the first TLS connection.

import { ConfigError } from "./resolve.ts";
import { readConfigText } from "./read-config-text.ts";
import { errorMessage } from "../errors.ts";
import { pemCertificatesProblem } from "../util/pem-certificates.ts";

/** The options that name a CA bundle. */
export type CaBundleField = "caFile" | "s3CaFile" | "vaultCaFile";

/** The bundle's PEM text; throws ConfigError naming `field` when it cannot be read or is not only certificates. */
export function readCaBundle(path: string, field: CaBundleField): string {
  let pem: string;
  try {
    pem = readConfigText(path);
  } catch (error) {
    throw new ConfigError(field, `Cannot read "${field}" "${path}": ${errorMessage(error)}`);
  }
  const problem = pemCertificatesProblem(pem);
  if (problem !== undefined) throw new ConfigError(field, `Cannot use "${field}" "${path}": ${problem}`);
  return pem;
}
