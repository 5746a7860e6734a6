// `env:NAME` and `file:/path` references: the runner's own environment and files, which hold its
// API key, cloud credentials and private keys. A job names references, and jobs come from the
// controller, which the runner does not fully trust; so both are off unless the config allows
// them: env names one by one (secretEnvNames), files only under one directory (secretFileDir),
// the path resolved (.., symlinks) before the check, regular files only, bounded in size.

import { constants as fsConstants } from "node:fs";
import * as fs from "node:fs/promises";
import * as nodePath from "node:path";
import { EdgeError } from "../../errors.ts";
import type { SecretReference } from "./reference.ts";

export interface LocalSourcesOptions {
  /** Environment variables an `env:` reference may name; none when undefined or empty. */
  envNames?: readonly string[];
  /** The directory `file:` references must resolve into; none when undefined. */
  fileDir?: SecretFileDir;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface SecretFileDir {
  /** As configured, made absolute and normalized (a reference may spell it this way). */
  path: string;
  /** With every symlink resolved: what the reference's real path must be under. */
  realPath: string;
}

export const MAX_SECRET_FILE_BYTES = 1024 * 1024;

export function readEnvReference(ref: Extract<SecretReference, { backend: "env" }>, options: LocalSourcesOptions): string {
  if (options.envNames?.includes(ref.name) !== true) {
    throw new EdgeError("secret_permission_denied", `Cannot resolve secret "${ref.raw}": env: references are refused unless the runner's secretEnvNames lists the variable`);
  }
  const value = (options.env ?? process.env)[ref.name];
  if (value === undefined || value === "") throw new EdgeError("secret_not_found", `Cannot resolve secret "${ref.raw}": the runner's environment has no variable "${ref.name}"`);
  return value;
}

export async function readFileReference(ref: Extract<SecretReference, { backend: "file" }>, options: LocalSourcesOptions): Promise<string> {
  const dir = options.fileDir;
  const refused = (why: string) => new EdgeError("secret_permission_denied", `Cannot resolve secret "${ref.raw}": ${why}`);
  if (dir === undefined) throw refused("file: references are refused unless the runner's secretFileDir is set");
  const outside = `the file is not under the runner's secretFileDir`;
  // Checked on the spelling first, so a path elsewhere tells the job nothing about what exists there.
  const lexical = nodePath.resolve(ref.path);
  if (!isUnder(lexical, dir.path) && !isUnder(lexical, dir.realPath)) throw refused(outside);
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch (error) {
    throw openFailure(ref.raw, error);
  }
  // A symlink inside the directory that points out of it is refused like the path itself.
  if (!isUnder(real, dir.realPath)) throw refused(outside);
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: a FIFO would otherwise block the open until a writer comes.
    handle = await fs.open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw openFailure(ref.raw, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new EdgeError("secret_reference_invalid", `Cannot resolve secret "${ref.raw}": not a regular file`);
    const tooLarge = () => new EdgeError("secret_reference_invalid", `Cannot resolve secret "${ref.raw}": the file is over ${MAX_SECRET_FILE_BYTES} bytes`);
    if (info.size > MAX_SECRET_FILE_BYTES) throw tooLarge();
    // Read at most one byte past the cap: a file that grew since stat() is still bounded.
    const buffer = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_SECRET_FILE_BYTES) throw tooLarge();
    }
    // One trailing newline is what editors and `echo` add; it is not part of the secret.
    return buffer.subarray(0, length).toString("utf8").replace(/\r?\n$/, "");
  } finally {
    await handle.close();
  }
}

function isUnder(path: string, dir: string): boolean {
  const prefix = dir.endsWith(nodePath.sep) ? dir : dir + nodePath.sep;
  return path.startsWith(prefix);
}

function openFailure(raw: string, error: unknown): EdgeError {
  const code = (error as { code?: string }).code;
  if (code === "ELOOP") return new EdgeError("secret_permission_denied", `Cannot resolve secret "${raw}": the file is a symlink`);
  return new EdgeError(code === "ENOENT" || code === "ENOTDIR" ? "secret_not_found" : "secret_permission_denied", `Cannot resolve secret "${raw}": cannot open the file (${code ?? "error"})`);
}
