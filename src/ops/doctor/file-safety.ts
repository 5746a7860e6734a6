// The rule for files holding secrets (API key, private keys): a regular file, owned by the user
// who runs the runner, and no access for group or others. Returns the problem and its fix.

import { stat } from "node:fs/promises";
import { secretFileRefusal } from "../../util/secret-file-rule.ts";

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
  const refusal = secretFileRefusal(path, info);
  if (refusal?.octal !== undefined) return { problem: `"${path}" has mode ${refusal.octal}: other users can access it`, fix: refusal.fix ?? `chmod 600 "${path}"` };
  if (refusal !== undefined) return { problem: `"${path}" is not a regular file`, fix: `point the config at the file itself` };
  if (uid === undefined) return undefined;
  if (info.uid !== uid) {
    return { problem: `"${path}" is owned by uid ${info.uid}, not by uid ${uid} who runs this check`, fix: `chown ${uid} "${path}", or run doctor as the user the runner runs as` };
  }
  return undefined;
}
