// Reads a V8/Bun .cpuprofile and says which part of the code base the samples belong to: each
// sample is charged to the innermost frame that lives in our code (src/<folder>), in a
// dependency (node_modules/<pkg>) or in the bench itself; native frames (JSON, fs, postMessage,
// WebSocket send) are charged to the caller that asked for them.
// Usage: bun scripts/bench/profile-buckets.ts <file.cpuprofile>

import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function bucketOf(url: string): string | undefined {
  const src = /\/src\/([^/]+)\/(?:([^/]+)\/)?/.exec(url);
  if (src !== null) return src[1] === "controller" && src[2] !== undefined && !src[2].includes(".") ? `src/${src[1]}/${src[2]}` : `src/${src[1]}`;
  if (/\/src\/[^/]+\.ts/.test(url)) return "src (top level)";
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (dep !== null) return `node_modules/${dep[1]}`;
  if (url.includes("/scripts/bench/")) return "bench driver";
  return undefined;
}

/** Milliseconds per bucket, largest first, and the total. */
export function bucketProfile(profile: CpuProfile): { totalMs: number; buckets: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const cache = new Map<number, string>();
  const charge = (id: number): string => {
    const cached = cache.get(id);
    if (cached !== undefined) return cached;
    let at: number | undefined = id;
    let bucket: string | undefined;
    while (at !== undefined && bucket === undefined) {
      const node = byId.get(at);
      const name = node?.callFrame.functionName ?? "";
      if (name === "(idle)") bucket = "idle (waiting for I/O)";
      else if (name === "(garbage collector)") bucket = "garbage collector";
      else bucket = bucketOf(node?.callFrame.url ?? "");
      at = parent.get(at);
    }
    bucket ??= "runtime (no JS caller)";
    cache.set(id, bucket);
    return bucket;
  };
  const totals = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    totalUs += us;
    const bucket = charge(id);
    totals.set(bucket, (totals.get(bucket) ?? 0) + us);
  });
  const buckets = [...totals.entries()].map(([k, us]) => [k, us / 1000] as [string, number]).sort((a, b) => b[1] - a[1]);
  return { totalMs: totalUs / 1000, buckets };
}

if (import.meta.main) {
  const file = process.argv[2];
  if (file === undefined) throw new Error("Usage: bun scripts/bench/profile-buckets.ts <file.cpuprofile>");
  const { totalMs, buckets } = bucketProfile(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
  for (const [bucket, msValue] of buckets) console.log(`${((100 * msValue) / totalMs).toFixed(1).padStart(5)}%  ${msValue.toFixed(0).padStart(6)} ms  ${bucket}`);
}
