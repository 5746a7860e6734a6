import { expect, test } from "bun:test";
import { SingleFlight } from "../../src/util/single-flight.ts";

test("SingleFlight.run() shares one piece of work per key and starts fresh after it settles", async () => {
  const flight = new SingleFlight<number>();
  let calls = 0;
  let release: (n: number) => void = () => {};
  const work = () => { calls++; return new Promise<number>((r) => (release = r)); };
  const a = flight.run("k", work), b = flight.run("k", work);
  expect(flight.size).toBe(1);
  release(7);
  expect(await Promise.all([a, b])).toEqual([7, 7]);
  expect(calls).toBe(1);
  expect(flight.size).toBe(0);
  const c = flight.run("k", work);
  release(8);
  expect(await c).toBe(8);
  expect(calls).toBe(2);
});

test("SingleFlight.run() lets one caller give up without aborting the others, and aborts when all give up", async () => {
  const flight = new SingleFlight<string>();
  let shared: AbortSignal | undefined;
  let release: (v: string) => void = () => {};
  const work = (signal: AbortSignal) => { shared = signal; return new Promise<string>((r) => (release = r)); };
  const one = new AbortController(), two = new AbortController();
  const a = flight.run("k", work, one.signal), b = flight.run("k", work, two.signal);
  one.abort(new Error("first gave up"));
  await expect(a).rejects.toThrow("first gave up");
  expect(shared?.aborted).toBe(false);
  release("done");
  expect(await b).toBe("done");

  const three = new AbortController();
  const c = flight.run("j", work, three.signal);
  three.abort(new Error("all gave up"));
  await expect(c).rejects.toThrow("all gave up");
  expect(shared?.aborted).toBe(true);
  expect(flight.size).toBe(0);
});
