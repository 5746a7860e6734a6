// The peer section's npm packages (bullmq, ioredis: devDependencies) installed when a checkout's
// node_modules predates them, as redis-process.ts installs redis-server: the bench installs what
// it needs, at the versions of package-lock.json (a bare `npm install` trusts node_modules'
// own lock and would skip them).

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

export function ensureNodePackages(root: string, names: readonly string[], say: (message: string) => void): void {
  // A file check, not Bun.resolveSync: Bun remembers a failed resolution for the whole process.
  const missing = () => names.filter((name) => !existsSync(path.join(root, "node_modules", name, "package.json")));
  const absent = missing();
  if (absent.length === 0) return;
  const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
  const specs = absent.map((name) => {
    const version = lock.packages[`node_modules/${name}`]?.version;
    if (version === undefined) throw new Error(`Cannot install "${name}" for the bench: package-lock.json does not pin it`);
    return `${name}@${version}`;
  });
  say(`installing ${specs.join(", ")} (devDependencies missing from node_modules) with npm install --no-save`);
  const installed = spawnSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", ...specs], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  if (installed.status !== 0) throw new Error(`Cannot install ${absent.join(", ")} for the bench: npm install exited ${installed.status}`);
  const still = missing();
  if (still.length > 0) throw new Error(`Cannot run the peer section: ${still.join(", ")} still missing after npm install`);
}
