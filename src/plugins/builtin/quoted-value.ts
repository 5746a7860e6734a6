// How a built-in shows a value it did not choose (a refused URL, path or input, an API's name or
// state, a long line) in a message, so a secret in it is never split where the runner cannot see
// the split. The runner masks a secret whole anywhere in a message, but its first part only where
// it ends the text (job-text.ts redactThenClip(), redaction-scope.ts line()): a cut value followed
// by a closing quote or more words could show a secret's first characters. So a value is shown
// whole or by its length only, or, where a cut part is wanted (a log line), cut with the note first.

/** The value as JSON text (a quote or line break in it cannot pass for the message's own) if it has at most `max` characters, else its length. */
export function quotedValue(value: string, max: number): string {
  return value.length <= max ? JSON.stringify(value) : `(a value of ${value.length} characters, not shown)`;
}

/** The text as it is if it has at most `max` characters, else its length: for text that more of the message follows. */
export function wholeOrLength(text: string, max: number): string {
  return text.length <= max ? text : `(${text.length} characters, not shown)`;
}

/** The text cut to `max` characters, saying how long it was; the note first, so the kept part ends the text. */
export function cutNoteFirst(text: string, max: number): string {
  return text.length > max ? `(${text.length} characters, cut) ${text.slice(0, max)}` : text;
}
