import { expect, test } from "bun:test";
import { Backoff, parseRetryAfter } from "../../src/util/backoff.ts";

test("Backoff.next() draws below an exponentially growing ceiling (full jitter)", () => {
  const ceilings: number[] = [];
  const backoff = new Backoff({ minMs: 100, maxMs: 1000, random: () => 0.999999 });
  for (let i = 0; i < 6; i++) ceilings.push(backoff.next());
  expect(ceilings).toEqual([99, 199, 399, 799, 999, 999]);
});

test("Backoff.next() can wait zero (full jitter, not equal jitter)", () => {
  const backoff = new Backoff({ minMs: 100, maxMs: 1000, random: () => 0 });
  expect(backoff.next()).toBe(0);
});

test("Backoff.next() honours Retry-After as a floor, clamped to the reconnect ceiling", () => {
  const backoff = new Backoff({ minMs: 100, maxMs: 10_000, random: () => 0.5 });
  expect(backoff.next(5000)).toBe(5000);
  // Issue 9 item 5: Retry-After 3600 s used to park the runner an hour, 99999999 s to overflow the timer.
  expect(backoff.next(3_600_000)).toBe(10_000);
  expect(backoff.next(99_999_999_000)).toBe(10_000);
  expect(backoff.next(-5)).toBeLessThanOrEqual(10_000);
  expect(backoff.next(Number.NaN)).toBeLessThanOrEqual(10_000);
});

test("Backoff.reset() starts the ceiling over; ceiling() waits the maximum", () => {
  const backoff = new Backoff({ minMs: 100, maxMs: 1000, random: () => 0.999999 });
  backoff.next();
  backoff.next();
  backoff.reset();
  expect(backoff.next()).toBe(99);
  expect(backoff.ceiling()).toBe(1000);
});

test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = Date.parse("2026-11-22T10:00:00Z");
  expect(parseRetryAfter("7", now)).toBe(7000);
  expect(parseRetryAfter("Sun, 22 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
  expect(parseRetryAfter("garbage", now)).toBeUndefined();
  expect(parseRetryAfter(null, now)).toBeUndefined();
});
