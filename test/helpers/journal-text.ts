// A controller journal file's text as its reader sees it: up to its first zero byte. The files
// grow ahead of their data in zeros (src/reference-controller/append-file.ts), cut off only when
// the controller closes them or starts again, so a test reading one while it is open stops there.

import { readFileSync } from "node:fs";

export function journalText(file: string): string {
  const bytes = readFileSync(file);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString("utf8");
}
