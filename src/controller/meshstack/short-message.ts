// Cutting a message for meshStack, which suggests short ones: a user message or summary keeps its
// head, a system message (the log) its tail, each marked with "…". The text is already redacted,
// so a cut never falls inside a mask (leaving "ACTED]" or "[RED" that reads like a value) or
// between the halves of a UTF-16 surrogate pair (a lone half has no UTF-8 form: it would reach
// meshStack as U+FFFD).

import { MASK } from "../../log/redact.ts";

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** `text` if it fits in `max` UTF-16 units, else its start (at most `max - 1`) and "…". */
export function keepHead(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  if (end > 0 && isHigh(text.charCodeAt(end - 1)) && isLow(text.charCodeAt(end))) end--;
  const mask = text.lastIndexOf(MASK, end - 1);
  if (mask >= 0 && mask + MASK.length > end) end = mask;
  return `${text.slice(0, end)}…`;
}

/** `text` if it fits in `max` UTF-16 units, else "…" and its end (at most `max - 1`). */
export function keepTail(text: string, max: number): string {
  if (text.length <= max) return text;
  let start = text.length - max + 1;
  if (isLow(text.charCodeAt(start)) && isHigh(text.charCodeAt(start - 1))) start++;
  const mask = text.lastIndexOf(MASK, start - 1);
  if (mask >= 0 && mask + MASK.length > start) start = mask + MASK.length;
  return `…${text.slice(start)}`;
}
