// Replacing an executable so that a crash or a concurrent start sees either the old or the new
// file, never half of one: stage it beside the target (same file system), fsync, rename over.

import { randomBytes } from "node:crypto";
import { chmod, chown, link, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Writes `bytes` beside `target` as a hidden executable file; returns its path. */
export async function stageExecutable(target: string, bytes: Uint8Array): Promise<string> {
  const staged = join(dirname(target), `.${basename(target)}.new-${randomBytes(6).toString("hex")}`);
  const handle = await open(staged, "wx", 0o700);
  let written = false;
  try {
    await handle.writeFile(bytes);
    await handle.sync();
    written = true;
  } finally {
    await handle.close();
    if (!written) await rm(staged, { force: true });
  }
  return staged;
}

export interface CommitSwapOptions {
  staged: string;
  target: string;
  /** Keep the replaced file as `<target>.previous` (a hard link, so it costs no copy) for a rollback. */
  keepPrevious?: boolean;
}

/** Gives `staged` the target's mode and owner, then renames it over `target`; durable on return. */
export async function commitSwap(options: CommitSwapOptions): Promise<{ previous?: string }> {
  const { staged, target } = options;
  const current = await stat(target).catch(() => undefined);
  await chmod(staged, current === undefined ? 0o755 : current.mode & 0o7777);
  if (current !== undefined && (process.getuid?.() ?? -1) === 0) await chown(staged, current.uid, current.gid);
  let previous: string | undefined;
  if (options.keepPrevious === true && current !== undefined) {
    previous = `${target}.previous`;
    await rm(previous, { force: true });
    await link(target, previous);
  }
  await rename(staged, target);
  await syncDirectory(dirname(target));
  return previous === undefined ? {} : { previous };
}

/** Removes a staged file that will not be committed. */
export async function discardStaged(staged: string): Promise<void> {
  await rm(staged, { force: true });
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
