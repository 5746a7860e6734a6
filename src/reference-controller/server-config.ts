// How the controller and dev commands turn resolved config into the controller's options.

import { ConfigError, type Config } from "../config/resolve.ts";
import type { Logger } from "../log/logger.ts";
import type { ReferenceControllerOptions } from "./controller.ts";

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
    port: config.listenPort,
    leaseTtlMs: config.leaseTtlMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    maxAttempts: config.maxAttempts,
    jobRetentionMs: config.jobRetentionMs,
    logger,
    ...resolveAdminTokenForServer(config),
  };
}
