// The secret backends a runner's config asks for: Vault and GCP settings read and checked
// before any network call (credential files must be private; a Vault over plain http must be
// loopback or --insecure). Nothing here loads node-vault: that happens at the first vault: read.

import type { Config } from "../../config/resolve.ts";
import { ConfigError } from "../../config/resolve.ts";
import { readSecretFile } from "../../config/secret-file.ts";
import { plainHttpRefusal, publicUrl } from "../../config/url.ts";
import { realpathSync, statSync } from "node:fs";
import * as nodePath from "node:path";
import type { SecretBackendsOptions } from "./secret-backends.ts";
import type { SecretFileDir } from "./local-sources.ts";
import { ENV_NAME } from "./reference.ts";
import { errorMessage } from "../../errors.ts";
import { readCaBundle } from "../../config/ca-bundle.ts";
import { readVaultTokenFile } from "./vault-token.ts";
import { headerUnsafeCharacter } from "../../util/header-value.ts";

type FromConfig = Pick<SecretBackendsOptions, "vault" | "gcp" | "envNames" | "fileDir">;

export function backendOptionsFromConfig(config: Config): FromConfig {
  const out: FromConfig = {};
  if (config.secretEnvNames !== undefined) out.envNames = secretEnvNames(config.secretEnvNames);
  if (config.secretFileDir !== undefined) out.fileDir = secretFileDir(config.secretFileDir);
  if (config.vaultAddr !== undefined) {
    const refusal = plainHttpRefusal(config.vaultAddr, config.insecure, "Vault");
    if (refusal !== undefined) throw new ConfigError("vaultAddr", refusal);
    const token = config.vaultTokenFile === undefined ? undefined : readVaultTokenFile(config.vaultTokenFile);
    if (config.vaultNamespace !== undefined) {
      const bad = headerUnsafeCharacter(config.vaultNamespace);
      if (bad !== undefined) throw new ConfigError("vaultNamespace", `Refusing "vaultNamespace": it holds ${bad}, which cannot be sent in the X-Vault-Namespace header`);
    }
    const secretId = config.vaultSecretIdFile === undefined ? undefined : readSecretFile(config.vaultSecretIdFile, "vaultSecretIdFile");
    if (token === undefined && (config.vaultRoleId === undefined || secretId === undefined)) {
      throw new ConfigError("vaultAddr", `Vault at "${publicUrl(config.vaultAddr)}" needs credentials: set vaultTokenFile, or vaultRoleId with vaultSecretIdFile`);
    }
    // Checked here, not at the first vault: read, where Bun's TLS would refuse it mid-call.
    const caPem = config.vaultCaFile === undefined ? undefined : readCaBundle(config.vaultCaFile, "vaultCaFile");
    out.vault = {
      addr: config.vaultAddr,
      timeoutMs: config.vaultTimeoutMs,
      appRoleMount: config.vaultAppRoleMount,
      ...(token === undefined ? {} : { token, tokenFile: config.vaultTokenFile! }),
      ...(config.vaultRoleId === undefined ? {} : { roleId: config.vaultRoleId }),
      ...(secretId === undefined ? {} : { secretId }),
      ...(config.vaultNamespace === undefined ? {} : { namespace: config.vaultNamespace }),
      ...(caPem === undefined ? {} : { caPem }),
    };
  }
  if (config.gcpCredentialsFile !== undefined || config.gcpUseMetadata) {
    const serviceAccountJson = config.gcpCredentialsFile === undefined ? undefined : readSecretFile(config.gcpCredentialsFile, "gcpCredentialsFile");
    out.gcp = {
      endpoint: config.gcpSecretManagerUrl,
      metadataUrl: config.gcpMetadataUrl,
      timeoutMs: config.gcpTimeoutMs,
      ...(serviceAccountJson === undefined ? {} : { serviceAccountJson }),
      ...(config.gcpTokenUrl === undefined ? {} : { tokenUrl: config.gcpTokenUrl }),
    };
  }
  return out;
}


/** The env names env: references may read (the list is bounded by the option table); the runner's own EDGE_RUNNER_* settings never. */
function secretEnvNames(names: readonly string[]): readonly string[] {
  for (const name of names) {
    if (!ENV_NAME.test(name)) throw new ConfigError("secretEnvNames", `Invalid name "${name.slice(0, 40)}" in "secretEnvNames": expected letters, digits and _, not starting with a digit`);
    if (name.toUpperCase().startsWith("EDGE_RUNNER_")) throw new ConfigError("secretEnvNames", `Refusing "${name}" in "secretEnvNames": the runner's own settings (EDGE_RUNNER_*) are never readable by jobs`);
  }
  return names;
}

function secretFileDir(path: string): SecretFileDir {
  const absolute = nodePath.resolve(path);
  let realPath: string;
  try {
    realPath = realpathSync(absolute);
    if (!statSync(realPath).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
  } catch (error) {
    throw new ConfigError("secretFileDir", `Cannot use "secretFileDir" "${path}": ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  if (realPath === nodePath.parse(realPath).root) throw new ConfigError("secretFileDir", `Refusing "secretFileDir" "${path}": it is the file system's root; name a directory that holds only secrets jobs may read`);
  return Object.freeze({ path: absolute, realPath });
}
