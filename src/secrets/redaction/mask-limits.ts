// What a plugin may ask the runner to mask (ctx.secrets.mask, sensitive outputs). Each value costs
// the job's redaction matcher about 30 encoded forms of its length, rebuilt on the runner's main
// thread at the next line, so the host bounds them (host-calls.ts). The plugin's side checks the
// same bounds before it posts, and throws: `mask()` returns nothing, so a refusal the host answered
// later would reach no one, and the plugin would go on to print a value it believes masked.

/** Characters of one masked value. */
export const MAX_MASK_CHARS = 64 * 1024;
/** Values one attempt may mask. */
export const MAX_MASKS = 256;
/** Characters one attempt may mask in all. */
export const MAX_MASKED_CHARS = 256 * 1024;

/** What one attempt has masked so far. */
export interface MaskCount {
  count: number;
  chars: number;
}

/** Why `value` may not be masked after `sofar` (undefined: it may), in the words both sides use. */
export function maskRefusal(value: string, sofar: MaskCount, job: string): string | undefined {
  if (value.length > MAX_MASK_CHARS) return `Cannot mask a value of ${value.length} characters (at most ${MAX_MASK_CHARS})`;
  if (sofar.count >= MAX_MASKS || sofar.chars + value.length > MAX_MASKED_CHARS) {
    return `Cannot mask another value for job "${job}": an attempt masks at most ${MAX_MASKS} values and ${MAX_MASKED_CHARS} characters in all`;
  }
  return undefined;
}
