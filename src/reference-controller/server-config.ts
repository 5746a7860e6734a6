// How the controller command turns config into the admin token options of the controller.

import { ConfigError, type Config } from "../config/resolve.ts";

/** `adminToken` and `adminTokenFile` exclude each other; with neither, the data-dir default applies. */
export function resolveAdminTokenForServer(config: Config): { adminToken?: string; adminTokenFile?: string } {
  if (config.adminToken !== undefined && config.adminTokenFile !== undefined) {
    throw new ConfigError("adminToken", `Options "adminToken" and "adminTokenFile" exclude each other: set one`);
  }
  if (config.adminToken !== undefined) return { adminToken: config.adminToken };
  if (config.adminTokenFile !== undefined) return { adminTokenFile: config.adminTokenFile };
  return {};
}
