// What to say about text that is not JSON without quoting it: parsers put part of the input in
// their message (Bun: `Unexpected identifier "…"`, Node: `…"apiKey": k-SEKRET-1"… is not valid
// JSON`), and that input may be a config file with an API key or a private key file.

import { errorMessage } from "../errors.ts";

/** "not valid JSON", with the line and column when the parser's message names a position. */
export function jsonSyntaxProblem(error: unknown, text: string): string {
  const position = /\bat position (\d+)/.exec(errorMessage(error))?.[1];
  if (position === undefined) return "not valid JSON";
  const before = text.slice(0, Math.min(Number(position), text.length));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `not valid JSON (line ${line}, column ${column})`;
}
