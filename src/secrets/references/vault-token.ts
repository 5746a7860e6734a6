// What a Vault token (or the namespace) must look like to be sent as a header: one line of
// visible ASCII. Checked where the value comes from (the token file, at start and when re-read;
// the AppRole login's answer; the vaultNamespace option), so the error names that source before
// any call, instead of node:http refusing the header mid-call (and never showing the value).

import { ConfigError } from "../../config/resolve.ts";
import { readSecretFile } from "../../config/secret-file.ts";
import { headerUnsafeCharacter } from "../../util/header-value.ts";

/** The token file's token, refused (naming vaultTokenFile) when it cannot be sent as X-Vault-Token; the backend applies the same rule when it re-reads the file. */
export function readVaultTokenFile(path: string): string {
  const token = readSecretFile(path, "vaultTokenFile");
  const bad = headerUnsafeCharacter(token);
  if (bad !== undefined) throw new ConfigError("vaultTokenFile", `Refusing "vaultTokenFile" file "${path}": the token holds ${bad}, which cannot be sent in the X-Vault-Token header; a Vault token is one line of visible ASCII`);
  return token;
}
