// Hostile frames for the fuzzers: random mutations of real protocol messages (about real jobs
// where ids are known), plus garbage: bad JSON, deep nesting, huge and odd numbers, long and
// distinct strings, unknown types, oversized batches, repeated leases. Seeded, so a failure
// can be replayed.

export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }
  next(): number {
    // xorshift32
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 0x100000000;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

const ODD_NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 53, 1e12, 1e308, -1e308, 0.5, Number.MAX_SAFE_INTEGER, 99999999];

export function oddValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 6 : 9)) {
    case 0: return rng.pick(ODD_NUMBERS);
    case 1: return "x".repeat(rng.pick([0, 1, 1024, 70_000]));
    case 2: return null;
    case 3: return rng.next() < 0.5;
    case 4: return `s-${rng.int(1e9)}`;
    case 5: return "NaN";
    case 6: return [oddValue(rng, depth + 1), oddValue(rng, depth + 1)];
    case 7: return { a: oddValue(rng, depth + 1), [`k${rng.int(1e6)}`]: oddValue(rng, depth + 1) };
    // (Deeper values are built as text below: Bun's JSON.stringify is slow on deep nesting.)
    default: return nested(rng.pick([10, 64, 65, 99, 101]));
  }
}

/** An odd string: empty, long, distinct, control characters. */
export function oddString(rng: Rng): string {
  return rng.pick(["", "x".repeat(70_000), `distinct-${rng.int(1e9)}`, "\u0000\u001b[31mred", "é".repeat(5000), "{\"v\":1}"]);
}

export function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** A frame's text (or a binary frame as a Uint8Array). */
export type Frame = string | Uint8Array<ArrayBuffer>;

export interface JobRef {
  jobId: string;
  attempt: number;
}

/** One hostile frame a runner could send to the controller. */
export function runnerFrame(rng: Rng, jobs: readonly JobRef[]): Frame {
  const job = jobs.length > 0 && rng.next() < 0.7 ? rng.pick(jobs) : { jobId: `job_${rng.int(1e6)}`, attempt: 1 + rng.int(3) };
  const messages: Array<() => unknown> = [
    () => ({ v: 1, type: "credit", slots: rng.pick([0, 1, 5, -1, 1e12, 100_000]), ...(rng.next() < 0.3 ? { reset: true } : {}) }),
    () => ({ v: 1, type: "accept", ...job }),
    () => ({ v: 1, type: "reject", ...job, error: { code: "x", message: oddString(rng) } }),
    () => ({ v: 1, type: "heartbeat", leases: Array.from({ length: rng.pick([1, 100, 10_000]) }, () => job) }),
    () => ({ v: 1, type: "log", ...job, seq: 1 + rng.int(5), lines: Array.from({ length: rng.pick([1, 10, 500]) }, (_, i) => ({ ts: i, level: "info", msg: "f".repeat(rng.pick([10, 1000, 2000])) })) }),
    () => ({ v: 1, type: "step", ...job, seq: 1 + rng.int(5), step: { id: "s", status: "running", name: oddValue(rng), extra: oddValue(rng) } }),
    () => ({ v: 1, type: "result", ...job, lastSeq: rng.int(5), status: rng.pick(["succeeded", "failed", "interrupted", "bogus"]), output: oddValue(rng), startedAt: 1, finishedAt: 2 }),
    () => ({ v: 1, type: "error", error: { code: oddString(rng).slice(0, 100) || "e", message: oddString(rng) } }),
    () => ({ v: 1, type: `unknown-${rng.int(1e9)}`, payload: oddValue(rng) }),
    () => ({ v: rng.pick([0, 2, "1", null]), type: "credit", slots: 1 }),
  ];
  const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  const small: Array<() => unknown> = [
    () => ({ v: 1, type: "credit", slots: rng.pick([0, 1, 1e12]) }),
    () => ({ v: 1, type: "accept", ...job }),
    () => ({ v: 1, type: "heartbeat", leases: [job, job] }),
    () => ({ v: 1, type: `unknown-${rng.int(1e9)}` }),
    () => ({ v: 1, type: "log", ...job, seq: 1 + rng.int(5), lines: [{ ts: 1, level: "info", msg: "small" }] }),
  ];
  switch (rng.int(10)) {
    case 0: return `{"v":1,"type":"credit","slots":${"[".repeat(rng.pick([1, 100, 50_000]))}`;
    case 1: return rng.pick(["", "[]", "null", "42", "\"str\"", "{", "[[[[", "\u0000\u0001", "{\"v\":1}"]);
    // A result whose output nests 39,998 levels: the poison of issue 9 item 1.
    case 4: return `{"v":1,"type":"result","jobId":${JSON.stringify(job.jobId)},"attempt":${job.attempt},"lastSeq":0,"status":"succeeded","startedAt":1,"finishedAt":2,"output":${deep(rng.pick([65, 99, 39_998]))}}`;
    case 2: return new Uint8Array(rng.pick([1, 100, 4096])).fill(rng.int(256));
    // Batches of small messages only: a batch is at most 1,000 messages and a frame 4 MiB.
    case 3: return JSON.stringify(Array.from({ length: rng.pick([2, 10, 1001]) }, () => rng.pick(small)()));
    default: return JSON.stringify(rng.pick(messages)());
  }
}

/** One hostile frame a controller could send to a runner. */
export function controllerFrame(rng: Rng, jobSeq: { n: number }): string {
  const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  const jobId = `fz-${jobSeq.n}`;
  const messages: Array<() => unknown> = [
    () => ({ v: 1, type: "offer", job: { id: `fz-${++jobSeq.n}`, attempt: 1, group: "default", plugin: "echo", action: "default", input: oddValue(rng), leaseExpiresAt: rng.pick(ODD_NUMBERS), submittedAt: 1, ...(rng.next() < 0.3 ? { timeoutMs: rng.pick(ODD_NUMBERS) } : {}) } }),
    () => ({ v: 1, type: "cancel", jobId, attempt: 1, reason: oddString(rng) }),
    () => ({ v: 1, type: "heartbeat_ack", leases: Array.from({ length: rng.pick([1, 100, 10_000]) }, () => ({ jobId, attempt: 1, ok: rng.next() < 0.5, reason: oddString(rng).slice(0, 2000), leaseExpiresAt: rng.pick(ODD_NUMBERS) })) }),
    () => ({ v: 1, type: "ack", jobId, attempt: 1, seq: rng.pick(ODD_NUMBERS) }),
    () => ({ v: 1, type: "result_ack", jobId, attempt: 1, accepted: rng.next() < 0.5, reason: oddString(rng).slice(0, 5000), expectedSeq: rng.pick(ODD_NUMBERS) }),
    () => ({ v: 1, type: "error", error: { code: oddString(rng).slice(0, 100) || "e", message: oddString(rng) } }),
    () => ({ v: 1, type: `unknown-${rng.int(1e9)}-${oddString(rng).slice(0, 500)}` }),
    () => ({ v: rng.pick([0, 2, "1"]), type: "offer" }),
  ];
  switch (rng.int(10)) {
    case 0: return `{"v":1,"type":"ack",${"[".repeat(rng.pick([1, 100, 50_000]))}`;
    case 1: return rng.pick(["", "[]", "null", "42", "{", "[[[[", "\u0000", "{\"v\":1}"]);
    case 2: return `{"v":1,"type":"offer","job":${deep(rng.pick([65, 101, 39_998]))}}`;
    case 3: return JSON.stringify(Array.from({ length: rng.pick([2, 10, 1001]) }, () => ({ v: 1, type: rng.pick(["ack", "error", "nope"]), jobId, attempt: 1, seq: 1, error: { code: "x", message: "y" } })));
    default: return JSON.stringify(rng.pick(messages)());
  }
}
