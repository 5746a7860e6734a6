// What every replica of the controller must see besides jobs and runners: its secrets, the
// plugin bundles it serves and the artifacts jobs kept. Files in the data directory by default
// (one controller); in PostgreSQL with `storeUrl` (postgres/shared-stores.ts), so replicas share them.

import * as path from "node:path";
import type { AtRestCipher } from "../secrets/at-rest.ts";
import { ArtifactStore, type ControllerArtifacts } from "./artifact-store.ts";
import { BundleStore, type ControllerBundles } from "./bundle-store.ts";
import { SecretStore, type ControllerSecrets } from "./secret-store.ts";

export interface SharedStores {
  secrets: ControllerSecrets;
  bundles: ControllerBundles;
  artifacts: ControllerArtifacts;
}

/** The file stores under the controller's data directory (`<dataDir>/controller`). */
export function fileSharedStores(dir: string, cipher: AtRestCipher, artifactMaxBytes: number): SharedStores {
  return {
    secrets: new SecretStore(dir, cipher),
    bundles: new BundleStore({ dir: path.join(dir, "plugins") }),
    artifacts: new ArtifactStore({ dir: path.join(dir, "artifacts"), maxBytes: artifactMaxBytes }),
  };
}
