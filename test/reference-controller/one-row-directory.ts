// A session directory of replica "b" in which every session is held by replica "a" at
// `ownerUrl` with `token`: what the WebSocket relay tests attach through, without a database.

import { memoryLogger } from "../../src/log/logger.ts";
import { SessionDirectory } from "../../src/reference-controller/session-directory.ts";
import { sha256Hex } from "../../src/reference-controller/tokens.ts";
import { realTimers } from "../../src/util/time.ts";

export function oneRowDirectory(ownerUrl: string, token: string): SessionDirectory {
  return new SessionDirectory({
    rows: {
      replicaId: "b",
      put: () => {},
      remove: () => {},
      find: async (id) => ({ id, runnerId: "r1", group: "default", replicaId: "a", advertiseUrl: ownerUrl, tokenHash: sha256Hex(token), createdAt: 0, lastSeenAt: Date.now() }),
      live: async () => [],
      heartbeat: async () => {},
    },
    timer: realTimers,
    logger: memoryLogger().logger,
    expiryMs: 60_000,
    advertiseUrl: () => "http://b.test:8780",
  });
}
