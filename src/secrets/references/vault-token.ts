// What a Vault token (or the namespace) must look like to be sent as a header: one line of
// visible ASCII. Checked where the value comes from (the token file, at start and when re-read;
// the AppRole login's answer; the vaultNamespace option), so the error names that source before
// any call, instead of node:http refusing the header mid-call (and never showing the value).

import { ConfigError } from "../../config/resolve.ts";
import { readSecretFile } from "../../config/secret-file.ts";

const HEADER_SAFE = /^[\x21-\x7e]+$/;

/**
 * The first character that keeps `value` out of a header, named ("a line break (U+000A)");
 * undefined when it can be sent. Never quotes the value.
 */
export function headerUnsafeCharacter(value: string): string | undefined {
  if (HEADER_SAFE.test(value)) return undefined;
  if (value === "") return "nothing (it is empty)";
  const bad = [...value].find((c) => !HEADER_SAFE.test(c)) ?? "";
  const code = bad.codePointAt(0) ?? 0;
  const what = code === 0x0a || code === 0x0d ? "a line break" : code === 0x20 ? "a space" : code < 0x20 || code === 0x7f ? "a control character" : "a non-ASCII character";
  return `${what} (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
}

/** The token file's token, refused (naming vaultTokenFile) when it cannot be sent as X-Vault-Token; the backend applies the same rule when it re-reads the file. */
export function readVaultTokenFile(path: string): string {
  const token = readSecretFile(path, "vaultTokenFile");
  const bad = headerUnsafeCharacter(token);
  if (bad !== undefined) throw new ConfigError("vaultTokenFile", `Refusing "vaultTokenFile" file "${path}": the token holds ${bad}, which cannot be sent in the X-Vault-Token header; a Vault token is one line of visible ASCII`);
  return token;
}
