// The rule for files holding secrets (API key, private keys): a regular file, owned by the user
// who runs the runner, and no access for group or others. Returns the problem and its fix.

import { stat } from "node:fs/promises";

export interface FileProblem {
  problem: string;
  fix: string;
}

export async function secretFileProblem(path: string, uid: number | undefined): Promise<FileProblem | undefined> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    return { problem: `"${path}" cannot be read (${code})`, fix: code === "ENOENT" ? `create "${path}" or correct its path in the config` : `check the permissions of "${path}" and its directories` };
  }
  if (!info.isFile()) return { problem: `"${path}" is not a regular file`, fix: `point the config at the file itself` };
  if (uid === undefined) return undefined;
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    const octal = mode.toString(8).padStart(4, "0");
    return { problem: `"${path}" has mode ${octal}: other users can access it`, fix: `chmod 600 "${path}"` };
  }
  if (info.uid !== uid) {
    return { problem: `"${path}" is owned by uid ${info.uid}, not by uid ${uid} who runs this check`, fix: `chown ${uid} "${path}", or run doctor as the user the runner runs as` };
  }
  return undefined;
}
