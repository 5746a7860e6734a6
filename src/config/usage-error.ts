// A usage mistake on the command line (unknown flag, missing value, bad inline JSON): exit 64,
// name the flag, and suggest the nearest known one. Config errors (78) are about values that
// came from a file, the environment or a flag and are wrong for the product, not the syntax.

import { EdgeError } from "../errors.ts";

export class UsageError extends EdgeError {
  /** The flag or argument at fault, as typed (`--concurreny`), when there is one. */
  readonly flag: string | undefined;
  constructor(message: string, flag?: string) {
    super("usage_invalid", message);
    this.name = "UsageError";
    this.flag = flag;
  }
}

/** `Unknown option "--concurreny" (did you mean --concurrency?)` for a flag nobody declared. */
export function unknownFlag(flag: string, known: readonly string[]): UsageError {
  const near = nearest(flag, known);
  const hint = near === undefined ? "see --help for the accepted options" : `did you mean ${near}?`;
  return new UsageError(`Unknown option "${flag}" (${hint})`, flag);
}

/** The candidate closest to `word` by edit distance, when it is close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  // A third of the word's length (at least 2 edits) is a typo; more is another word.
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = row;
  }
  return previous[b.length] as number;
}
