// The runner's key service at start (src/secrets/runner-key-service.ts): a runner without a key
// file makes a throwaway key before it connects (so it is told right after the first session is
// up, as a keyed runner's), says so once, and tells it once.

import { afterEach, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ControllerClient } from "../../src/platform/controller-client.ts";
import { rotateRunnerKey } from "../../src/secrets/key-ring.ts";
import { RunnerKeyService } from "../../src/secrets/runner-key-service.ts";
import { tempDir } from "../helpers/harness.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

test("without a key file, load() makes a throwaway key and warns; check() tells it once", async () => {
  const { dir, remove } = tempDir("edge-runner-key-service-");
  cleanups.push(remove);
  const told: Array<{ kid: string; kty: string }> = [];
  const client: ControllerClient = {
    fetch: async (_url, init) => {
      told.push(...(JSON.parse(String(init?.body)) as { keys: Array<{ kid: string; kty: string }> }).keys);
      return new Response(null, { status: 204 });
    },
    openWebSocket: () => {
      throw new Error("not used");
    },
  };
  const { logger, records } = memoryLogger("warn");
  const service = await RunnerKeyService.load({ dir: `${dir}/keys`, controllerUrl: () => "http://127.0.0.1:1", runnerId: "r1", apiKey: "k", client, logger, checkMs: 60_000 });
  const [key] = service.ring.keys;
  expect(key?.file).toBe("(memory)");
  expect(records.map((r) => r.msg).filter((m) => m.startsWith("No runner key"))).toHaveLength(1);
  expect(told).toEqual([]);

  await service.check();
  expect(told).toEqual([expect.objectContaining({ kid: key?.kid, kty: "RSA" })]);
  // The same key is kept (and not told again) by later checks.
  await service.check();
  expect(service.ring.keys.map((k) => k.kid)).toEqual([key?.kid ?? "(no key)"]);
  expect(told).toHaveLength(1);
});

test("the first check tells the ring load() read without reading it again; later checks adopt a rotation on disk", async () => {
  const { dir, remove } = tempDir("edge-runner-key-service-");
  cleanups.push(remove);
  const keys = `${dir}/keys`;
  await rotateRunnerKey(keys, { modulusLength: 2048 });
  const told: string[] = [];
  const client: ControllerClient = {
    fetch: async (_url, init) => {
      told.push(...(JSON.parse(String(init?.body)) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid));
      return new Response(null, { status: 204 });
    },
    openWebSocket: () => {
      throw new Error("not used");
    },
  };
  const service = await RunnerKeyService.load({ dir: keys, controllerUrl: () => "http://127.0.0.1:1", runnerId: "r1", apiKey: "k", client, logger: memoryLogger("warn").logger, checkMs: 60_000 });
  const loaded = service.ring.current?.kid ?? "(no key)";
  // Rotated between load() and the first check (which comes a few ms later, once connected).
  const { current: rotated } = await rotateRunnerKey(keys, { modulusLength: 2048 });
  await service.check();
  expect(told).toEqual([loaded]);
  await service.check();
  expect(service.ring.current?.kid).toBe(rotated);
  expect(told).toEqual([loaded, rotated, loaded]);
});
