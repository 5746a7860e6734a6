// Doctor check: the trusted plugin signing keys ("trustedKeys", default <dataDir>/trusted-keys)
// load and are not all expired; without them every downloaded plugin bundle is refused, so a
// broken key file fails here instead of at the first job.

import { stat } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../../errors.ts";
import { TrustedKeyRing } from "../../../plugin-bundles/key-ring.ts";
import type { DoctorCheck } from "../check.ts";

export const signingKeysCheck: DoctorCheck = {
  id: "signing-keys",
  title: "signing keys",
  needs: ["config"],
  async run(ctx) {
    const config = ctx.state.config!;
    const path = config.trustedKeys ?? join(config.dataDir, "trusted-keys");
    const exists = await stat(path).then(() => true, () => false);
    if (config.trustedKeys === undefined && !exists) {
      return { status: "skip", summary: `no trusted plugin signing keys configured ("${path}" does not exist)`, notes: ["built-in plugins work; downloaded plugin bundles will be refused"] };
    }
    let ring: TrustedKeyRing;
    try {
      ring = await TrustedKeyRing.load(path);
    } catch (error) {
      return { status: "fail", summary: errorMessage(error), fix: `put the platform's public signing keys (JWK, JWKS or PEM) in "${path}"` };
    }
    const keys = ring.kids.map((kid) => ring.get(kid)!);
    if (keys.length === 0) return { status: "fail", summary: `"${path}" holds no public key`, fix: `put the platform's public signing keys in "${path}"` };
    const now = Date.now();
    const live = keys.filter((k) => k.expiresAt === undefined || k.expiresAt > now);
    if (live.length === 0) return { status: "fail", summary: `every key in "${path}" has expired`, fix: "add the platform's current signing key" };
    const expired = keys.length - live.length;
    return { status: "pass", summary: `${live.length} trusted key(s) in "${path}": ${live.map((k) => `"${k.kid}"`).join(", ")}`, notes: expired > 0 ? [`${expired} expired key(s) can be removed`] : [] };
  },
};
