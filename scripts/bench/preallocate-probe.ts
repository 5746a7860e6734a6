// What the controller's journal sync costs on a directory's file system, three ways, interleaved
// write by write: append + fsync (before 1da8b8d), append + fdatasync, and a write over zeros the
// file already holds + fdatasync (the journal grown ahead of its data, append-file.ts). Not a
// test; figures for docs/performance.md ("Throughput and latency, sixth round").
//
//   bun scripts/bench/preallocate-probe.ts [DIR] [--writes=600] [--bytes=8192]

import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const parent = args.find((a) => !a.startsWith("--")) ?? tmpdir();
const writes = flag("writes", 600);
const bytes = flag("bytes", 8192);

const dir = fs.mkdtempSync(path.join(parent, "edge-runner-preallocate-"));
const line = Buffer.from(`${"x".repeat(bytes - 1)}\n`);
const open = (name: string) => fs.openSync(path.join(dir, name), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
const ways = [
  { name: "append + fsync", fd: open("a"), at: 0, sync: fs.fsyncSync, times: [] as number[] },
  { name: "append + fdatasync", fd: open("b"), at: 0, sync: fs.fdatasyncSync, times: [] as number[] },
  { name: "over zeros + fdatasync", fd: open("c"), at: 0, sync: fs.fdatasyncSync, times: [] as number[] },
];
try {
  // The third file's zeros are written and made durable before the clock runs, as a step is.
  const zeros = Buffer.alloc(writes * line.length);
  fs.writeSync(ways[2]!.fd, zeros, 0, zeros.length, 0);
  fs.fsyncSync(ways[2]!.fd);
  for (let i = 0; i < writes; i++) {
    for (const way of ways) {
      const t = performance.now();
      way.at += fs.writeSync(way.fd, line, 0, line.length, way.at);
      way.sync(way.fd);
      way.times.push(performance.now() - t);
    }
  }
  const at = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!.toFixed(3);
  for (const way of ways) console.log(`${way.name.padEnd(24)} p50 ${at(way.times, 0.5)} ms, p99 ${at(way.times, 0.99)} ms (${writes} writes of ${bytes} B in ${parent})`);
} finally {
  for (const way of ways) fs.closeSync(way.fd);
  fs.rmSync(dir, { recursive: true, force: true });
}
