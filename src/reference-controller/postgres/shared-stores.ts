// Opens the stores every replica must share besides jobs and runners (secrets, plugin bundles,
// job artifacts) on the PostgreSQL store's connection pool. Imported dynamically with the rest of
// postgres/ only when `storeUrl` is set.

import type { Sql } from "postgres";
import type { Logger } from "../../log/logger.ts";
import type { AtRestCipher } from "../../secrets/at-rest.ts";
import type { SharedStores } from "../shared-stores.ts";
import { PgArtifacts } from "./pg-artifacts.ts";
import { PgBundles } from "./pg-bundles.ts";
import { PgSecrets } from "./pg-secrets.ts";

export async function openPostgresSharedStores(options: { sql: Sql; cipher: AtRestCipher; artifactMaxBytes: number; logger: Logger }): Promise<SharedStores> {
  return {
    secrets: await PgSecrets.open(options.sql, options.cipher),
    bundles: new PgBundles(options.sql),
    artifacts: new PgArtifacts({ sql: options.sql, maxBytes: options.artifactMaxBytes, logger: options.logger }),
  };
}
