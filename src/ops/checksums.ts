// SHA256SUMS: the `sha256sum` format ("<64 hex>  <name>" per line), written and parsed strictly,
// because install.sh checks the same file with sha256sum and both must agree on every byte.

import { createHash } from "node:crypto";
import { EdgeError } from "../errors.ts";

const LINE = /^([0-9a-f]{64}) [ *]([A-Za-z0-9][A-Za-z0-9._-]*)$/;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** One line per file, sorted by name, trailing newline: byte-identical for the same inputs. */
export function formatChecksums(files: ReadonlyMap<string, Uint8Array>): string {
  const names = [...files.keys()].sort();
  return names.map((name) => `${sha256Hex(files.get(name) as Uint8Array)}  ${name}\n`).join("");
}

/** name → hex digest; refuses anything but well-formed lines and duplicate names. */
export function parseChecksums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const [i, line] of lines.entries()) {
    const match = LINE.exec(line);
    if (match === null) throw new EdgeError("release_unverified", `Cannot read "SHA256SUMS": line ${i + 1} is not "<sha256>  <file name>"`);
    const [, hex, name] = match as unknown as [string, string, string];
    if (out.has(name)) throw new EdgeError("release_unverified", `Cannot read "SHA256SUMS": "${name}" is listed twice`);
    out.set(name, hex);
  }
  return out;
}
