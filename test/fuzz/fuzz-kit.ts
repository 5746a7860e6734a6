// The seeded fuzz harness's tools (docs/testing.md, "Fuzzing"): a small deterministic PRNG, the
// hostile values every target is fed, and mutations of a valid message (a field replaced, dropped
// or added, a duplicate, nesting, raw-text damage). No dependency: a failing case is replayed from
// its seed and index alone.

/** Cases per target: a few thousand by default (seconds); EDGE_FUZZ_CASES for a longer run. */
export function fuzzCases(fallback: number): number {
  const raw = process.env.EDGE_FUZZ_CASES;
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** A ceiling for a fuzz test (not a timing assertion): generous, and unbounded in practice for a long run. */
export function fuzzTimeout(): number {
  return process.env.EDGE_FUZZ_CASES === undefined ? 60_000 : 24 * 3_600_000;
}

/** The run's seed: fixed unless EDGE_FUZZ_SEED names another (printed with every failure). */
export function fuzzSeed(): number {
  const raw = process.env.EDGE_FUZZ_SEED;
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isSafeInteger(n) ? n >>> 0 : 0x5eed_2026;
}

/** mulberry32: tiny, fast, and the same sequence on Bun, Node and Deno. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

/** `[[[…0…]]]` nested `depth` levels, built without recursion. */
export function deepArray(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** `{"a":{"a":…}}` nested `depth` levels. */
export function deepObject(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** JSON text nested `depth` levels (for parsers: cheaper than building then stringifying). */
export function deepText(depth: number): string {
  return "[".repeat(depth) + "0" + "]".repeat(depth);
}

/** A parsed object whose own key is "__proto__" (what JSON.parse makes of `{"__proto__":…}`). */
export function protoKeyed(value: unknown): Record<string, unknown> {
  return JSON.parse(`{"__proto__":${JSON.stringify(value)},"constructor":{"prototype":{"polluted":true}}}`) as Record<string, unknown>;
}

/** Values a hostile peer puts where a field belongs: wrong types, edge numbers, huge and deep. */
export function hostileValue(rng: Rng): unknown {
  switch (rng.int(24)) {
    case 0: return null;
    case 1: return true;
    case 2: return rng.pick([-1, -0, 0, 0.5, -1e308, 1e308, 2 ** 31, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE]);
    // NaN and Infinity do not survive JSON.stringify (they become null); the text mutations carry them.
    case 3: return rng.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    case 4: return "";
    case 5: return "x".repeat(rng.pick([257, 1025, 70_000, 300_000]));
    case 6: return "\ud800"; // a lone surrogate
    case 7: return "a\udc00b\ud83d";
    case 8: return "\u0000\u001b[31m\r\n";
    case 9: return [];
    case 10: return {};
    case 11: return Array.from({ length: rng.pick([1001, 10_001, 50_000]) }, (_, i) => i);
    case 12: return deepArray(rng.pick([65, 101, 1_000]));
    case 13: return deepObject(rng.pick([65, 101, 500]));
    case 14: return protoKeyed({ polluted: true });
    case 15: return { toString: "x", valueOf: 1, hasOwnProperty: null };
    case 16: return "__proto__";
    case 17: return "constructor";
    case 18: return rng.pick(["1", "0x10", "1e3", " 7 ", "-1", "NaN", "Infinity"]);
    case 19: return [null];
    case 20: return { v: 1 };
    case 21: return rng.int(1_000_000);
    case 22: return "../../etc/passwd";
    default: return "%00%2e%2e/\u202e";
  }
}

type Json = unknown;

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Paths to every field of `value` (objects and arrays), root excluded. */
function paths(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== "object" || out.length > 200) return out;
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, child] of entries.slice(0, 50)) {
    const path = [...prefix, key];
    out.push(path);
    paths(child, path, out);
  }
  return out;
}

function parentOf(root: Json, path: Array<string | number>): Record<string | number, unknown> | undefined {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object") return undefined;
    node = next as Record<string | number, unknown>;
  }
  return node;
}

/**
 * One to three structural mutations of a copy of `valid`: a field replaced by a hostile value,
 * removed, an extra field (a prototype key among them), an array item duplicated, or the value
 * wrapped deeper. The original is never changed.
 */
export function mutate(valid: Json, rng: Rng): Json {
  let root = clone(valid);
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) {
    const all = paths(root);
    if (all.length === 0 || rng.chance(0.05)) {
      root = hostileValue(rng);
      continue;
    }
    const path = rng.pick(all);
    const parent = parentOf(root, path);
    if (parent === undefined) continue;
    const key = path[path.length - 1] as string | number;
    switch (rng.int(6)) {
      case 0:
      case 1:
        parent[key] = hostileValue(rng);
        break;
      case 2:
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key];
        break;
      case 3:
        if (Array.isArray(parent)) parent.push(clone(parent[key as number]));
        else parent[rng.pick(["__proto__", "constructor", "prototype", "extra", String(key).toUpperCase()])] = hostileValue(rng);
        break;
      case 4:
        parent[key] = rng.chance(0.5) ? [parent[key]] : { [String(key)]: parent[key] };
        break;
      default:
        // Same type, other value: a number off by one or negated, a string changed.
        if (typeof parent[key] === "number") parent[key] = rng.pick([(parent[key] as number) + 1, -(parent[key] as number), (parent[key] as number) * 1e6, 0]);
        else if (typeof parent[key] === "string") parent[key] = rng.pick([`${parent[key] as string}x`, (parent[key] as string).toUpperCase(), ""]);
        else parent[key] = hostileValue(rng);
    }
  }
  return root;
}

/** Damage to a message's JSON text that no object can carry: NaN, Infinity, cuts, bad escapes. */
export function mutateText(text: string, rng: Rng): string {
  switch (rng.int(10)) {
    case 0: return text.slice(0, rng.int(text.length));
    case 1: return text.replace(/(-?\d+(\.\d+)?)/, rng.pick(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "01", "1.", "0x1F"]));
    case 2: return text.replace(/"([^"\\]*)"/, `"$1\\ud800"`);
    case 3: return text.replace(/"([^"\\]*)"/, `"$1\\u00"`);
    case 4: return `${text}${text}`;
    case 5: return text.replace("{", `{"__proto__":{"polluted":true},`);
    case 6: return text.replace(/,"/, `,"v":2,"`);
    case 7: return `\ufeff${text}`;
    case 8: return text.replace(/"type":"[a-z_]+"/, `"type":"${rng.pick(["toString", "__proto__", "constructor", "hasOwnProperty", "OFFER", ""])}"`);
    default: return `[${text},${text}]`;
  }
}

/** Bytes that are not UTF-8 (lone continuation bytes, an overlong encoding, a cut sequence). */
export function invalidUtf8(prefix = ""): Uint8Array<ArrayBuffer> {
  const head = new TextEncoder().encode(prefix);
  const tail = new Uint8Array([0x80, 0xc0, 0xaf, 0xe2, 0x82, 0xff, 0xfe, 0xed, 0xa0, 0x80]);
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/** Heap in use after a full collection (Bun), for "memory stays bounded" checks. */
export function heapUsed(): number {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  bun?.gc(true);
  return process.memoryUsage().heapUsed;
}

/** A failure message that lets the case be replayed: `seed`, case index, and the input (cut). */
export function caseLabel(seed: number, index: number, input: unknown): string {
  let text: string;
  try {
    text = typeof input === "string" ? input : JSON.stringify(input) ?? String(input);
  } catch {
    text = String(input);
  }
  return `seed ${seed} case ${index}: ${text.slice(0, 300)}`;
}

/** Whether an error text names what was wrong: a quoted field or value. */
export function namesAField(text: string): boolean {
  return /"[^"]{1,200}"/.test(text);
}
