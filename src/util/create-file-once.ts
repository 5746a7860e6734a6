// Creating a file once, whole or not at all: a key or token file written to a full disk must not
// be left empty or short, or every later start reads it and refuses (or worse, uses it). The bytes
// go to a temp file beside it, fsync'd, then hard-linked to the name, which fails if another
// process created it meanwhile (its file wins, like `wx`). The temp file is removed whatever happens.

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Creates `file` with `data` (mode `mode`) unless it exists; returns whether this call created it. */
export function createFileOnce(file: string, data: string | Uint8Array, mode: number): boolean {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp-create`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, "wx", mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    try {
      fs.linkSync(temp, file);
    } catch (error) {
      if ((error as { code?: unknown }).code === "EEXIST") return false;
      throw error;
    }
    return true;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
  }
}
