// The rate-limit holds the integrations' API clients share: keyed by a hash of (origin, credential),
// seen by every thread that has the same memory, dropped once passed, bounded, and never stuck
// behind a lock a terminated thread left.

import { expect, test } from "bun:test";
import { RATE_HOLD_SLOTS, RateHolds, rateHoldKey, rateHoldMemory } from "../../src/plugins/rate-holds.ts";

const NOW = 1_800_000_000_000;

test("rateHoldKey() tells origins and credentials apart and does not carry the credential", () => {
  const key = rateHoldKey("https://api.github.com", "Bearer ghs_secret");
  expect(rateHoldKey("https://api.github.com", "Bearer ghs_secret")).toBe(key);
  expect(rateHoldKey("https://api.github.com", "Bearer ghs_other")).not.toBe(key);
  expect(rateHoldKey("https://github.example.com", "Bearer ghs_secret")).not.toBe(key);
  expect(typeof key).toBe("bigint");
});

test("RateHolds over one shared memory (as two worker threads have it) see each other's holds", () => {
  const memory = rateHoldMemory();
  expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  const a = new RateHolds(memory);
  const b = new RateHolds(memory);
  const key = rateHoldKey("https://api.github.com", "t1");
  a.hold(key, NOW + 30_000, NOW);
  expect(b.notBefore(key, NOW)).toBe(NOW + 30_000);
  expect(b.notBefore(rateHoldKey("https://api.github.com", "t2"), NOW)).toBe(0);
  // A shorter hold learned later does not shorten it.
  b.hold(key, NOW + 5_000, NOW);
  expect(a.notBefore(key, NOW)).toBe(NOW + 30_000);
});

test("RateHolds drops a hold once its time passed, and keeps at most RATE_HOLD_SLOTS, giving up the one that ends soonest", () => {
  const holds = new RateHolds();
  const key = (i: number) => rateHoldKey("https://gitlab.com", `token-${i}`);
  holds.hold(key(0), NOW + 1000, NOW);
  expect(holds.notBefore(key(0), NOW + 1000)).toBe(0);
  for (let i = 1; i <= RATE_HOLD_SLOTS; i++) holds.hold(key(i), NOW + 10_000 + i, NOW);
  // Full: one more takes the slot of the hold that ends soonest (token-1).
  holds.hold(key(RATE_HOLD_SLOTS + 1), NOW + 60_000, NOW);
  expect(holds.notBefore(key(RATE_HOLD_SLOTS + 1), NOW)).toBe(NOW + 60_000);
  expect(holds.notBefore(key(1), NOW)).toBe(0);
  expect(holds.notBefore(key(2), NOW)).toBe(NOW + 10_002);
  expect(holds.notBefore(key(RATE_HOLD_SLOTS), NOW)).toBe(NOW + 10_000 + RATE_HOLD_SLOTS);
});

test("RateHolds takes over a lock left by a thread terminated inside it", () => {
  const memory = rateHoldMemory();
  // The lock word as a thread left it two seconds ago.
  Atomics.store(memory, 0, BigInt(NOW - 2000) << 12n);
  const holds = new RateHolds(memory);
  const key = rateHoldKey("https://dev.azure.com", "Basic x");
  holds.hold(key, NOW + 7000, NOW);
  expect(holds.notBefore(key, NOW)).toBe(NOW + 7000);
  expect(Atomics.load(memory, 0)).toBe(0n);
});
