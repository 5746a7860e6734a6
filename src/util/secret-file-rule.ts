// The one rule for files holding secrets (API keys, tokens, private keys, the controller's store
// key): a regular file that no other user can read or write. POSIX modes do not exist on
// Windows, so the mode part passes there. Every reader of such a file asks this function.

export interface SecretFileRefusal {
  /** "mode 0644 lets other users read it", or "it is not a regular file". */
  reason: string;
  /** The command that fixes it, when there is one. */
  fix?: string;
  /** The file's permission bits as four octal digits, when the mode is the problem. */
  octal?: string;
}

export function secretFileRefusal(path: string, info: { mode: number; isFile(): boolean }, platform: string = process.platform): SecretFileRefusal | undefined {
  if (!info.isFile()) return { reason: "it is not a regular file" };
  if (platform === "win32") return undefined;
  const mode = info.mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  const octal = mode.toString(8).padStart(4, "0");
  return { reason: `mode ${octal} lets other users read it`, fix: `chmod 600 "${path}"`, octal };
}
