// A value a built-in quotes in a message (a refused URL, path or input): whole, or past `max`
// characters only its length, never a cut of it. The runner masks a secret whole anywhere in a
// message, but its first part only where it ends the text (job-text.ts redactThenClip()): a cut
// value followed by a closing quote or more words could show a secret's first characters.

/** The value as JSON text (a quote or line break in it cannot pass for the message's own) if it has at most `max` characters, else its length. */
export function quotedValue(value: string, max: number): string {
  return value.length <= max ? JSON.stringify(value) : `(a value of ${value.length} characters, not shown)`;
}
