// How the controller and dev commands turn resolved config into the controller's options.

import * as fs from "node:fs";
import { ConfigError, type Config } from "../config/resolve.ts";
import { hostList } from "../config/url.ts";
import { readSecretFile } from "../config/secret-file.ts";
import type { Logger } from "../log/logger.ts";
import type { ReferenceControllerOptions } from "./controller.ts";
import { errorMessage } from "../errors.ts";

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
    logger,
    ...resolveAdminTokenForServer(config),
    ...tlsFromConfig(config),
  };
}

/** Both TLS files or neither; the key must be private to its owner. Read before anything listens. */
function tlsFromConfig(config: Config): { tls?: { cert: string; key: string } } {
  const { tlsCertFile, tlsKeyFile } = config;
  if (tlsCertFile === undefined && tlsKeyFile === undefined) return {};
  if (tlsCertFile === undefined || tlsKeyFile === undefined) {
    const missing = tlsCertFile === undefined ? "tlsCertFile" : "tlsKeyFile";
    throw new ConfigError(missing, `Option "${missing}" is missing: "tlsCertFile" and "tlsKeyFile" go together`);
  }
  let cert: string;
  try {
    cert = fs.readFileSync(tlsCertFile, "utf8");
  } catch (error) {
    throw new ConfigError("tlsCertFile", `Cannot read "tlsCertFile" "${tlsCertFile}": ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  if (!cert.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError("tlsCertFile", `Cannot use "tlsCertFile" "${tlsCertFile}": it holds no PEM certificate`);
  return { tls: { cert, key: readSecretFile(tlsKeyFile, "tlsKeyFile") } };
}
