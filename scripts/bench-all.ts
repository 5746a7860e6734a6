// `npm run bench [-- flags]`: scripts/bench.ts with the flags, then the plugin and storage
// benches. npm appends the flags to the end of its script line, so a chain `a && b && c` handed
// `--only=8` to the last script and ran every section of bench.ts (the commands printed in
// docs/performance.md said otherwise). With `--only=` only bench.ts runs; the other two take no
// flags from here (run them alone: `npm run bench:plugins`, `npm run bench:storage`).

import { spawnSync } from "node:child_process";

const flags = process.argv.slice(2);
const scripts = [["scripts/bench.ts", ...flags]];
if (!flags.some((flag) => flag.startsWith("--only="))) scripts.push(["scripts/bench-plugins.ts"], ["scripts/bench-storage.ts"]);
const root = new URL("..", import.meta.url).pathname;
for (const args of scripts) {
  const run = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
