// A signed plugin bundle whose job code reads the clock on its first line, for the latency rows
// of sections 8 and 9: `benchclock@1.0.0`, action `first` (returns `{ at }` and does nothing
// else, the peer's no-op job) and action `sleep` (takes `at`, then sleeps `input.ms`); and
// action `noop` (returns nothing: BullMQ's `async () => undefined`), the job of section 8's
// throughput rows, where the runner runs in the bench process and takes the same bytes from
// `localClockResolver` instead of a controller (no per-job cost either way once warm).
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
import { builtinSource, type PluginResolver } from "../../src/plugins/plugin-ref.ts";

export const CLOCK_PLUGIN = "benchclock@1.0.0";

/** Section 8's throughput job on edge-runner's side: nothing done, nothing logged, nothing returned. */
export const NOOP_JOB = { plugin: CLOCK_PLUGIN, action: "noop" } as const;

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
    noop() {},
    sleep(input) {
      const at = performance.timeOrigin + performance.now();
      return new Promise((resolve) => setTimeout(() => resolve({ at }), input.ms));
    },
  },
};
`;

/** For a pool in the bench process: the built-ins, and this bundle's bytes as a data: URL (unsigned: nothing to verify in-process). */
export const localClockResolver: PluginResolver = (ref) => {
  const builtin = builtinSource(ref);
  if (builtin !== undefined) return builtin;
  if (ref.name !== "benchclock") throw new RangeError(`Cannot resolve plugin "${ref.name}" in the bench: only built-ins and "benchclock"`);
  return { kind: "bundle", url: `data:text/javascript;base64,${Buffer.from(SOURCE).toString("base64")}`, id: "bench:benchclock", name: "benchclock", version: "1.0.0" };
};

export interface ClockBundle {
  /** Writes the public key into a runner's trusted-keys directory. */
  trust(dir: string): void;
  /** Publishes the bundle to a reference controller over its admin API. */
  publish(controllerUrl: string, adminToken: string): Promise<void>;
}

export async function clockBundle(): Promise<ClockBundle> {
  const bytes = new TextEncoder().encode(SOURCE);
  const manifest: BundleManifest = { name: "benchclock", version: "1.0.0", digest: sha256Digest(bytes), size: bytes.byteLength, sdkVersion: "bench", builtAt: new Date().toISOString(), actions: ["first", "noop", "sleep"] };
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
