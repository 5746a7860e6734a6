// Rate-limit holds shared by the integrations' API clients: "no call to this API with this
// credential before time T", learned by one job and honoured by every other job that uses the same
// credential. Sixteen jobs with one GitHub token must not each send a call into a limit one of
// them already saw spent (GitHub's secondary limits punish exactly that).
//
// The table is a fixed block of memory (RATE_HOLD_SLOTS entries): the pool creates it as shared
// memory once per runner process and hands it to every built-in plugin's worker thread, so the
// holds are per process; a worker given none (process isolation, tests) keeps one of its own.
// Keys are a hash of (API origin, credential), never the credential. An entry whose time has
// passed is free; when all are taken, the one that ends soonest is given up. A lock word guards
// the few reads and writes (microseconds); a lock older than a second belongs to a thread that
// was terminated inside it and is taken over, so a killed worker cannot stall the others.

import { createHash } from "node:crypto";

/** How many (origin, credential) holds the table keeps at once. */
export const RATE_HOLD_SLOTS = 256;
/** A lock held this long was left by a terminated thread. */
const STALE_LOCK_MS = 1000;
/** Word 0 is the lock; then [key, notBefore] per slot. */
const WORDS = 1 + RATE_HOLD_SLOTS * 2;

/** The table's memory, shared between threads (structured clone keeps a SharedArrayBuffer shared). */
export function rateHoldMemory(): BigInt64Array {
  return new BigInt64Array(new SharedArrayBuffer(WORDS * BigInt64Array.BYTES_PER_ELEMENT));
}

/** The key for an API origin and a credential: 64 bits of a SHA-256, never 0 (a free slot). */
export function rateHoldKey(origin: string, credential: string): bigint {
  const digest = createHash("sha256").update(origin).update("\0").update(credential).digest();
  const key = digest.readBigInt64BE(0);
  return key === 0n ? 1n : key;
}

export class RateHolds {
  readonly #table: BigInt64Array;

  constructor(table: BigInt64Array = new BigInt64Array(WORDS)) {
    if (table.length !== WORDS) throw new RangeError(`Cannot use a rate-hold table of ${table.length} words: expected ${WORDS}`);
    this.#table = table;
  }

  /** Epoch ms before which no call may go out for `key`, or 0. */
  notBefore(key: bigint, now: number): number {
    return this.#locked(now, () => {
      const slot = this.#find(key);
      if (slot === undefined) return 0;
      const until = Number(this.#table[slot + 1]);
      if (until > now) return until;
      this.#table[slot] = 0n;
      return 0;
    }) ?? 0;
  }

  /** No call for `key` before `until` (epoch ms); an existing later hold stays. */
  hold(key: bigint, until: number, now: number): void {
    if (until <= now) return;
    this.#locked(now, () => {
      const t = this.#table;
      let slot = this.#find(key);
      if (slot === undefined) {
        // A free or passed slot, else the hold that ends soonest (it is worth the least).
        for (let s = 1; s < WORDS; s += 2) {
          if (t[s] === 0n || Number(t[s + 1]) <= now) { slot = s; break; }
          if (slot === undefined || (t[s + 1] as bigint) < (t[slot + 1] as bigint)) slot = s;
        }
        t[slot!] = key;
        t[slot! + 1] = 0n;
      }
      const at = slot!;
      if (BigInt(Math.ceil(until)) > (t[at + 1] as bigint)) t[at + 1] = BigInt(Math.ceil(until));
    });
  }

  #find(key: bigint): number | undefined {
    for (let s = 1; s < WORDS; s += 2) if (this.#table[s] === key) return s;
    return undefined;
  }

  /** Runs `body` under the table's lock; undefined when the lock cannot be had (then nothing is shared). */
  #locked<T>(now: number, body: () => T): T | undefined {
    const t = this.#table;
    const mine = (BigInt(Math.floor(now)) << 12n) | BigInt(Math.floor(Math.random() * 4096));
    for (let spin = 0; ; spin++) {
      const held = Atomics.compareExchange(t, 0, 0n, mine);
      if (held === 0n) break;
      if (now - Number(held >> 12n) > STALE_LOCK_MS && Atomics.compareExchange(t, 0, held, mine) === held) break;
      if (spin > 100_000) return undefined;
    }
    try {
      return body();
    } finally {
      Atomics.compareExchange(t, 0, mine, 0n);
    }
  }
}

let current = new RateHolds();

/** The holds of this thread's API clients: the process's shared table once the pool gave one. */
export function rateHolds(): RateHolds {
  return current;
}

/** Called by the plugin runtime with the pool's shared memory (threads only). */
export function shareRateHolds(table: BigInt64Array): void {
  current = new RateHolds(table);
}
