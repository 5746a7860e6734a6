// Secrets never reach a log line: registered secret values are replaced wherever they appear,
// and fields whose names look secret are masked whatever their value.

const SECRET_FIELD = /(secret|password|passwd|token|api[-_]?key|authorization|private[-_]?key|credential)/i;
const MASK = "[REDACTED]";

export class Redactor {
  #values = new Set<string>();

  /** Registers a secret value; values shorter than 4 characters are ignored (too many false hits). */
  add(value: string | undefined): void {
    if (value !== undefined && value.length >= 4) this.#values.add(value);
  }

  remove(value: string): void {
    this.#values.delete(value);
  }

  text(input: string): string {
    let out = input;
    for (const value of this.#values) {
      if (out.includes(value)) out = out.split(value).join(MASK);
    }
    return out;
  }

  value(input: unknown, key = ""): unknown {
    if (SECRET_FIELD.test(key) && input !== null && input !== undefined && input !== "") return MASK;
    if (typeof input === "string") return this.text(input);
    if (Array.isArray(input)) return input.map((item) => this.value(item));
    if (input !== null && typeof input === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(input)) out[k] = this.value(v, k);
      return out;
    }
    return input;
  }
}

/** The process-wide redactor: every logger and every outgoing log chunk passes through it. */
export const redactor = new Redactor();
