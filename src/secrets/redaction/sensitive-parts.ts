// A secret whose value is not one piece of text still holds secrets a plugin may print one by
// one: a meshStack sensitive input (a LIST or object sent in clear, a number, decrypted text that
// is JSON) or a resolved secret reference that is JSON (a Vault field holding an object, a GCP
// payload of JSON text): a plugin may parse it and log an element, or a tool print one field of
// it. Masking only the whole value would miss those parts, so every string and number in it is
// registered with the run's redaction scope, and the value's compact JSON text (what a plugin
// that stringifies it prints, object keys included). A number of JSON text is registered as written
// too (12345678901234567890 parses to 12345678901234567000, 1.50 to 1.5: the plugin that prints the
// text prints the digits as written), and never as Infinity (1e400). Bounded like what a plugin may mask in one
// attempt (mask-limits.ts): a value past the bounds is refused before the plugin gets it, naming
// the input or reference (the caller's `refuse`), because handing a plugin a secret the runner
// cannot mask is the leak this file exists to close. One rule for both callers.

import { MAX_MASK_CHARS, MAX_MASKED_CHARS, MAX_MASKS, type MaskCount } from "./mask-limits.ts";
import { MIN_SECRET_CHARS } from "./secret-forms.ts";
import { STORED_JSON_BOUNDS } from "../../util/json-bounds.ts";

/** As deep as a run's input value may nest at all (run-document.ts) and redaction walks (64). */
export const MAX_PARTS_DEPTH = STORED_JSON_BOUNDS.maxDepth;
/** Decrypted text longer than this is not parsed as JSON for its parts: it fails the run when it looks like JSON. */
export const MAX_PARSED_CHARS = STORED_JSON_BOUNDS.maxBytes;

/** The parts of one run's sensitive values, registered as they are found, counted against one budget. */
export class SensitiveParts {
  readonly #register: (secret: string) => void;
  readonly #refuse: (key: string, why: string) => Error;
  readonly #sofar: MaskCount = { count: 0, chars: 0 };

  /** `refuse` makes the caller's error for a value past the bounds, naming `key` (never the value). */
  constructor(register: (secret: string) => void, refuse: (key: string, why: string) => Error) {
    this.#register = register;
    this.#refuse = refuse;
  }

  /**
   * A sensitive input's value as meshStack sent it in clear (not a string: a string value is
   * decrypted, and its plaintext goes to `plaintext()`). Booleans and null are not registered:
   * "true" masked everywhere would say nothing and hide every other "true" in the run's log.
   */
  inClear(key: string, value: unknown): void {
    if (value === null || typeof value === "boolean" || value === undefined) return;
    this.#walk(key, value);
  }

  /**
   * A plaintext (a decrypted input or a resolved reference, already registered whole by the
   * caller): when it is a JSON array or object, its parts too. Other text (a password, a data:
   * URL, HCL) is one value and is done.
   */
  plaintext(key: string, whole: string): void {
    // A leading byte order mark (a file an editor saved with one): JSON.parse refuses it.
    const plain = whole.charCodeAt(0) === 0xfeff ? whole.slice(1) : whole;
    const start = plain.trimStart()[0];
    if (start !== "[" && start !== "{") return;
    if (plain.length > MAX_PARSED_CHARS) throw this.#refuse(key, `its value starts like JSON and is ${plain.length} characters, more than the ${MAX_PARSED_CHARS} the runner reads for its parts`);
    // One scan before JSON.parse, which a deep text can overflow: the depth and the numbers as written.
    const shape = jsonTextShape(plain, MAX_PARTS_DEPTH);
    if (shape.tooDeep) throw this.#refuse(key, `its value is JSON nested deeper than ${MAX_PARTS_DEPTH} levels`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(plain);
    } catch {
      return; // Not JSON after all (HCL, a shell snippet): it is masked whole, as every decrypted value.
    }
    this.#walk(key, parsed);
    // The numbers as written where parsing changed them (digits past a double's precision, 1.50, 1E3).
    for (const written of shape.numbers) if (String(Number(written)) !== written) this.#take(key, written, "a number as written");
  }

  #walk(key: string, value: unknown): void {
    if (typeof value === "object" && value !== null) this.#take(key, JSON.stringify(value), "its JSON text");
    // An explicit stack: a value is at most MAX_PARTS_DEPTH deep, but a wide one must not recurse per element.
    // No path into the value is kept for messages: an object's or array's whole JSON text is taken
    // first and is longer than any part, so a part over the bounds is refused there already, and
    // a key can itself be secret (only values are registered).
    const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
    while (stack.length > 0) {
      const { value: v, depth } = stack.pop() as { value: unknown; depth: number };
      if (typeof v === "string") this.#take(key, v, "its text");
      // Infinity (1e400 parsed) is no secret's text: masked, it would hide every "Infinity" in the log.
      else if ((typeof v === "number" && Number.isFinite(v)) || typeof v === "bigint") this.#take(key, String(v), "its number");
      else if (v !== null && typeof v === "object") {
        if (depth >= MAX_PARTS_DEPTH) throw this.#refuse(key, `its value nests deeper than ${MAX_PARTS_DEPTH} levels`);
        const items = Array.isArray(v) ? v : Object.values(v);
        for (let i = items.length - 1; i >= 0; i--) stack.push({ value: items[i], depth: depth + 1 });
      }
    }
  }

  #take(key: string, part: string, what: string): void {
    // The scope ignores shorter values (they would hit ordinary text everywhere): they cost nothing.
    if (part.length < MIN_SECRET_CHARS) return;
    if (part.length > MAX_MASK_CHARS) throw this.#refuse(key, `${what} is ${part.length} characters, more than the ${MAX_MASK_CHARS} the runner masks as one value`);
    if (this.#sofar.count >= MAX_MASKS || this.#sofar.chars + part.length > MAX_MASKED_CHARS) {
      throw this.#refuse(key, `the run's sensitive values that are not plain text hold more than ${MAX_MASKS} parts or ${MAX_MASKED_CHARS} characters to mask, more than the runner masks for one run`);
    }
    this.#sofar.count++;
    this.#sofar.chars += part.length;
    this.#register(part);
  }
}

/**
 * What one scan of JSON text outside its strings finds: whether arrays and objects nest deeper
 * than `max` (the scan stops there), and the number tokens as written.
 */
function jsonTextShape(text: string, max: number): { tooDeep: boolean; numbers: string[] } {
  const numbers: string[] = [];
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return { tooDeep: true, numbers };
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // Text JSON.parse accepts: from a - or digit, the number runs over digits, . e E + -.
      let end = i + 1;
      while (end < text.length && /[0-9.eE+-]/.test(text[end]!)) end++;
      numbers.push(text.slice(i, end));
      i = end - 1;
    }
  }
  return { tooDeep: false, numbers };
}
