// A private key written inside a git work tree that does not ignore it is one `git add .` away
// from being published: `keygen` warns. Without git (or outside a work tree) it says nothing.

import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";

/** The files among `files` that sit in a git work tree and are not ignored by it. */
export function unignoredInGit(files: readonly string[]): string[] {
  return files.filter((given) => {
    const file = resolve(given);
    const cwd = dirname(file);
    const inside = spawnSync("git", ["rev-parse", "--is-inside-work-tree"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    if (inside.error !== undefined || inside.status !== 0 || inside.stdout.trim() !== "true") return false;
    // check-ignore exits 0 when ignored, 1 when not, 128 on error (then stay quiet).
    const ignored = spawnSync("git", ["check-ignore", "-q", "--no-index", file], { cwd, stdio: "ignore" });
    return ignored.status === 1;
  });
}

export function untrackedSecretWarning(files: readonly string[]): string {
  const exposed = unignoredInGit(files);
  if (exposed.length === 0) return "";
  return exposed
    .map((file) => `Warning: private key "${file}" is inside a git work tree that does not ignore it; add it to .gitignore (e.g. "*.key.jwk", "*.key.pem", "runner-key.pem") before the next "git add".\n`)
    .join("");
}
