// Test helper: a listing of every path under a directory with type, mode, owner and content
// hash, to show that an installer run changed nothing (or exactly what it changed).

import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join, relative } from "node:path";

export function snapshotTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const info = lstatSync(path);
      const meta = `${relative(root, path)} ${(info.mode & 0o7777).toString(8)} ${info.uid}:${info.gid}`;
      if (info.isSymbolicLink()) out.push(`${meta} -> ${readlinkSync(path)}`);
      else if (info.isDirectory()) {
        out.push(`${meta}/`);
        walk(path);
      } else out.push(`${meta} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
    }
  };
  walk(root);
  return out;
}
