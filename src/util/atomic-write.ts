// Writing a file so that readers see either nothing or the whole file: temp file in the same
// directory, fsync, rename, fsync the directory. A crash never leaves a half-written bundle or key.

import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomHex } from "./random-hex.ts";

export interface AtomicWriteOptions {
  /** File mode of the result, e.g. 0o600 for private keys; default 0o644. */
  mode?: number;
  /** Mode of directories created on the way; default 0o755. */
  dirMode?: number;
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o755 });
  const temp = join(dir, `.${basename(path)}.${randomHex(6)}.tmp`);
  const mode = options.mode ?? 0o644;
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(data);
    // The umask may have removed bits but never adds them; chmod makes the mode exact.
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dir);
}

/** Makes a rename durable; some platforms cannot open a directory, which is then best effort. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot fsync a directory; the rename is still atomic there.
  }
}
