// A signed plugin bundle whose job code reads the clock on its first line, for the latency rows
// of sections 8 and 9: `benchclock@1.0.0`, action `first` (returns `{ at }` and does nothing
// else, the peer's no-op job) and action `sleep` (takes `at`, then sleeps `input.ms`).
// `at` is `performance.timeOrigin + performance.now()`: wall-clock milliseconds with
// sub-millisecond resolution that agree across processes on one machine (Bun's
// `process.hrtime` starts per process, so it cannot be compared with the bench's clock).
// A built-in cannot do this without a plugin shipped only for the bench, hence a bundle; a
// runner reuses a verified bundle for `bundleRecheckMs` (30 s), so a warm bundle job dispatches
// like a built-in one (docs/performance.md, Plugins).

import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { sha256Digest } from "../../src/plugin-bundles/digest.ts";
import type { BundleManifest } from "../../src/plugin-bundles/manifest.ts";
import { signManifest } from "../../src/plugin-bundles/sign-manifest.ts";

export const CLOCK_PLUGIN = "benchclock@1.0.0";

/** The same line on both sides of a comparison: the bench's clock, in the job's code and in the submitter. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

const SOURCE = `export default {
  name: "benchclock",
  version: "1.0.0",
  actions: {
    first() {
      const at = performance.timeOrigin + performance.now();
      return { at };
    },
    sleep(input) {
      const at = performance.timeOrigin + performance.now();
      return new Promise((resolve) => setTimeout(() => resolve({ at }), input.ms));
    },
  },
};
`;

export interface ClockBundle {
  /** Writes the public key into a runner's trusted-keys directory. */
  trust(dir: string): void;
  /** Publishes the bundle to a reference controller over its admin API. */
  publish(controllerUrl: string, adminToken: string): Promise<void>;
}

export async function clockBundle(): Promise<ClockBundle> {
  const bytes = new TextEncoder().encode(SOURCE);
  const manifest: BundleManifest = { name: "benchclock", version: "1.0.0", digest: sha256Digest(bytes), size: bytes.byteLength, sdkVersion: "bench", builtAt: new Date().toISOString(), actions: ["first", "sleep"] };
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const signature = await signManifest(manifest, { kid, key: privateKey as CryptoKey });
  return {
    trust(dir) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(path.join(dir, "benchclock.jwk"), JSON.stringify({ ...jwk, kid }), { mode: 0o644 });
    },
    async publish(controllerUrl, adminToken) {
      const response = await fetch(`${controllerUrl}/api/v1/plugins/benchclock/1.0.0`, {
        method: "PUT",
        body: bytes,
        headers: { authorization: `Bearer ${adminToken}`, "x-edge-plugin-manifest": Buffer.from(JSON.stringify(manifest)).toString("base64url"), "x-edge-plugin-signature": signature },
      });
      if (response.status !== 201) throw new Error(`Cannot publish the bench's clock bundle: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    },
  };
}
