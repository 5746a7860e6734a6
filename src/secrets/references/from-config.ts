// The secret backends a runner's config asks for: Vault and GCP settings read and checked
// before any network call (credential files must be private; a Vault over plain http must be
// loopback or --insecure). Nothing here loads node-vault: that happens at the first vault: read.

import type { Config } from "../../config/resolve.ts";
import { ConfigError } from "../../config/resolve.ts";
import { readSecretFile } from "../../config/secret-file.ts";
import { plainHttpRefusal, publicUrl } from "../../config/url.ts";
import { readFileSync } from "node:fs";
import type { SecretBackendsOptions } from "./secret-backends.ts";
import { errorMessage } from "../../errors.ts";

export function backendOptionsFromConfig(config: Config): Pick<SecretBackendsOptions, "vault" | "gcp"> {
  const out: Pick<SecretBackendsOptions, "vault" | "gcp"> = {};
  if (config.vaultAddr !== undefined) {
    const refusal = plainHttpRefusal(config.vaultAddr, config.insecure, "Vault");
    if (refusal !== undefined) throw new ConfigError("vaultAddr", refusal);
    const token = config.vaultTokenFile === undefined ? undefined : readSecretFile(config.vaultTokenFile, "vaultTokenFile");
    const secretId = config.vaultSecretIdFile === undefined ? undefined : readSecretFile(config.vaultSecretIdFile, "vaultSecretIdFile");
    if (token === undefined && (config.vaultRoleId === undefined || secretId === undefined)) {
      throw new ConfigError("vaultAddr", `Vault at "${publicUrl(config.vaultAddr)}" needs credentials: set vaultTokenFile, or vaultRoleId with vaultSecretIdFile`);
    }
    let caPem: string | undefined;
    if (config.vaultCaFile !== undefined) {
      try {
        caPem = readFileSync(config.vaultCaFile, "utf8");
      } catch (error) {
        throw new ConfigError("vaultCaFile", `Cannot read "vaultCaFile" "${config.vaultCaFile}": ${errorMessage(error)}`);
      }
    }
    out.vault = {
      addr: config.vaultAddr,
      timeoutMs: config.vaultTimeoutMs,
      appRoleMount: config.vaultAppRoleMount,
      ...(token === undefined ? {} : { token }),
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
