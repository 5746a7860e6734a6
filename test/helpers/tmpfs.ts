// A small tmpfs for full-disk tests: mounted for one test (root only), filled to the last byte
// on demand, freed again, and unmounted. Callers skip with the reason `tmpfsUnavailable()` gives.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "full-disk tests mount a tmpfs, which needs Linux";
  if (process.getuid?.() !== 0) return "full-disk tests mount a small tmpfs, which needs root (run as root, or in CI)";
  return undefined;
}

export class Tmpfs {
  readonly dir: string;
  readonly #filler: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.#filler = path.join(dir, "filler.bin");
  }

  static mount(sizeBytes: number): Tmpfs {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-tmpfs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0755`, "tmpfs", dir]);
    return new Tmpfs(dir);
  }

  /** Fills the file system to the last byte, then gives back `leaveBytes` (rounded to pages). */
  fill(leaveBytes = 0): void {
    const chunk = Buffer.alloc(64 * 1024, 1);
    const fd = fs.openSync(this.#filler, "a");
    try {
      for (let size = chunk.length; size >= 1; size = Math.floor(size / 2)) {
        for (;;) {
          try {
            fs.writeSync(fd, chunk, 0, size);
          } catch {
            break;
          }
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    if (leaveBytes > 0) {
      const size = fs.statSync(this.#filler).size;
      fs.truncateSync(this.#filler, Math.max(0, size - leaveBytes));
    }
  }

  free(): void {
    fs.rmSync(this.#filler, { force: true });
  }

  /** Files under `sub` whose name marks a temp file (`*.tmp-*`, write probes). */
  tempFiles(sub = ""): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (/\.tmp-|write-probe/.test(entry.name)) out.push(full);
      }
    };
    walk(path.join(this.dir, sub));
    return out;
  }

  unmount(): void {
    try {
      execFileSync("umount", ["-l", this.dir]);
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
