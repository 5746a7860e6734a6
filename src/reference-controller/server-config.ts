// How the controller and dev commands turn resolved config into the controller's options.

import * as fs from "node:fs";
import { ConfigError, type Config } from "../config/resolve.ts";
import { hostList } from "../config/url.ts";
import { readSecretFile } from "../config/secret-file.ts";
import type { Logger } from "../log/logger.ts";
import type { ReferenceControllerOptions } from "./controller.ts";
import { errorMessage } from "../errors.ts";
import { readConfigText } from "../config/read-config-text.ts";
import { pemCertificatesProblem } from "../util/pem-certificates.ts";
import { pemPrivateKeyProblem } from "../util/pem-private-key.ts";

/** `adminToken` and `adminTokenFile` exclude each other; with neither, the data-dir default applies. */
export function resolveAdminTokenForServer(config: Config): { adminToken?: string; adminTokenFile?: string } {
  if (config.adminToken !== undefined && config.adminTokenFile !== undefined) {
    throw new ConfigError("adminToken", `Options "adminToken" and "adminTokenFile" exclude each other: set one`);
  }
  if (config.adminToken !== undefined) return { adminToken: config.adminToken };
  if (config.adminTokenFile !== undefined) return { adminTokenFile: config.adminTokenFile };
  return {};
}

/** Everything `ReferenceController.start()` takes from resolved config (the `controller` and `dev` commands). */
export function controllerOptionsFromConfig(config: Config, logger: Logger): ReferenceControllerOptions {
  return {
    dataDir: config.dataDir,
    hostname: config.listenHost,
    allowedHosts: hostList(config.allowedHosts),
    port: config.listenPort,
    leaseTtlMs: config.leaseTtlMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    maxAttempts: config.maxAttempts,
    jobRetentionMs: config.jobRetentionMs,
    leaseGraceMs: config.leaseGraceMs,
    jobLogMaxBytes: config.jobLogMaxBytes,
    eventJournalMaxBytes: config.eventJournalMaxBytes,
    artifactMaxBytes: config.artifactMaxBytes,
    ...(config.secretsKeyFile === undefined ? {} : { secretsKeyFile: config.secretsKeyFile }),
    logger,
    ...resolveAdminTokenForServer(config),
    ...tlsFromConfig(config),
    ...storeFromConfig(config),
    ...(config.advertiseUrl === undefined ? {} : { advertiseUrl: config.advertiseUrl }),
  };
}

/**
 * `storeUrl` must be a postgres:// or postgresql:// URL without a password (secrets never go in
 * URLs: they end up in process lists, shell history and logs); the password comes from
 * `storePasswordFile`, read under the secret-file rule. Checked before any connection.
 */
export function storeFromConfig(config: Config): { storeUrl?: string; storePassword?: string } {
  const { storeUrl, storePasswordFile } = config;
  if (storeUrl === undefined) {
    if (storePasswordFile !== undefined) throw new ConfigError("storePasswordFile", `Option "storePasswordFile" needs "storeUrl": set both or neither`);
    return {};
  }
  let url: URL;
  try {
    url = new URL(storeUrl);
  } catch {
    throw new ConfigError("storeUrl", `Invalid value for "storeUrl": expected a postgres:// URL (postgres://user@host:5432/database)`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError("storeUrl", `Invalid value for "storeUrl": expected a postgres:// or postgresql:// URL, got "${url.protocol}"`);
  }
  if (url.password !== "" || url.searchParams.has("password")) {
    throw new ConfigError("storeUrl", `Refusing "storeUrl": it holds a password; put the password in a file and set "storePasswordFile" (URLs show up in process lists and logs)`);
  }
  if (url.hostname === "" || url.pathname.replace(/^\//, "") === "") {
    throw new ConfigError("storeUrl", `Invalid value for "storeUrl": expected a host and a database name (postgres://user@host:5432/database)`);
  }
  return { storeUrl, ...(storePasswordFile === undefined ? {} : { storePassword: readSecretFile(storePasswordFile, "storePasswordFile") }) };
}

/**
 * Both TLS files or neither; the key must be private to its owner. Read and checked before
 * anything listens: the certificate chain by the one PEM certificate rule (as every CA bundle),
 * the key as one PEM private key, so a cut-off or corrupt file is a config error naming its field
 * (exit 78) rather than a crash or a TLS failure at the first connection. The key's problem never
 * quotes it.
 */
function tlsFromConfig(config: Config): { tls?: { cert: string; key: string } } {
  const { tlsCertFile, tlsKeyFile } = config;
  if (tlsCertFile === undefined && tlsKeyFile === undefined) return {};
  if (tlsCertFile === undefined || tlsKeyFile === undefined) {
    const missing = tlsCertFile === undefined ? "tlsCertFile" : "tlsKeyFile";
    throw new ConfigError(missing, `Option "${missing}" is missing: "tlsCertFile" and "tlsKeyFile" go together`);
  }
  let cert: string;
  try {
    cert = readConfigText(tlsCertFile);
  } catch (error) {
    throw new ConfigError("tlsCertFile", `Cannot read "tlsCertFile" "${tlsCertFile}": ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  const certProblem = pemCertificatesProblem(cert);
  if (certProblem !== undefined) throw new ConfigError("tlsCertFile", `Cannot use "tlsCertFile" "${tlsCertFile}": ${certProblem}`);
  const key = readSecretFile(tlsKeyFile, "tlsKeyFile");
  const keyProblem = pemPrivateKeyProblem(key);
  if (keyProblem !== undefined) throw new ConfigError("tlsKeyFile", `Cannot use "tlsKeyFile" "${tlsKeyFile}": ${keyProblem}`);
  return { tls: { cert, key } };
}
