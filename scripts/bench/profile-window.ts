// Reads a Bun/V8 .cpuprofile, keeps the samples inside a window of epoch milliseconds (the timed
// window profile-split.ts prints) and lists the hottest functions by self samples, and by the
// innermost caller in our code (native work such as JSON, send or postMessage charged to it).
// Bun samples the JS thread every ~1 ms only while it runs, so samples ≈ busy milliseconds.
// Usage: bun scripts/bench/profile-window.ts FILE.cpuprofile [--from=MS --to=MS] [--top=N]

import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber?: number };
  children?: number[];
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface WindowReport {
  samples: number;
  self: Array<[string, number]>;
  ours: Array<[string, number]>;
}

const short = (url: string): string => url.replace(/^.*\/(src|node_modules|scripts)\//, "$1/");

export function profileWindow(profile: CpuProfile, fromMs = -Infinity, toMs = Infinity): WindowReport {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const label = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    return url === "" || url === "[native code]" ? `${functionName || "(anonymous)"} [native]` : `${functionName || "(anonymous)"} ${short(url)}:${(lineNumber ?? -1) + 1}`;
  };
  const oursOf = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node !== undefined && /\/src\//.test(node.callFrame.url)) return label(node);
    }
    return "(no caller in src/)";
  };
  const self = new Map<string, number>();
  const ours = new Map<string, number>();
  let t = profile.startTime / 1000;
  let count = 0;
  profile.samples.forEach((id, i) => {
    t += (profile.timeDeltas[i] ?? 0) / 1000;
    if (t < fromMs || t > toMs) return;
    const node = byId.get(id);
    if (node === undefined || node.callFrame.functionName === "(idle)") return;
    count++;
    const name = label(node);
    self.set(name, (self.get(name) ?? 0) + 1);
    const our = oursOf(id);
    ours.set(our, (ours.get(our) ?? 0) + 1);
  });
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { samples: count, self: sorted(self), ours: sorted(ours) };
}

if (import.meta.main) {
  const file = process.argv[2];
  if (file === undefined) throw new Error("Usage: bun scripts/bench/profile-window.ts FILE.cpuprofile [--from=MS --to=MS] [--top=N]");
  const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const top = Number(flag("top") ?? 25);
  const report = profileWindow(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, Number(flag("from") ?? -Infinity), Number(flag("to") ?? Infinity));
  const pct = (n: number) => `${((100 * n) / report.samples).toFixed(1).padStart(5)}%`;
  console.log(`${report.samples} samples (~ms of the JS thread) in the window\n\nself:`);
  for (const [name, n] of report.self.slice(0, top)) console.log(`${pct(n)}  ${name}`);
  console.log("\ninnermost caller in src/ (native work charged to it):");
  for (const [name, n] of report.ours.slice(0, top)) console.log(`${pct(n)}  ${name}`);
}
