// Turns a child's stdout/stderr chunks into log lines as they arrive, under one byte budget for
// the whole job: past it one truncation marker is logged and the rest is read and dropped (a
// child blocked on a full pipe would never exit).

/** The longest line kept whole by default; a longer one is passed on in pieces of this size. */
export const LINE_MAX = 16 * 1024;

export class OutputBudget {
  #left: number;
  #marked = false;
  readonly #limit: number;

  constructor(limitBytes: number, private readonly onCut: (limit: number) => void) {
    this.#left = limitBytes;
    this.#limit = limitBytes;
  }

  /** True when `bytes` more may be logged; the first refusal logs the marker. */
  take(bytes: number): boolean {
    if (this.#left >= bytes) {
      this.#left -= bytes;
      return true;
    }
    this.#left = 0;
    if (!this.#marked) {
      this.#marked = true;
      this.onCut(this.#limit);
    }
    return false;
  }

  get truncated(): boolean {
    return this.#marked;
  }
}

export class LineStream {
  #partial = "";
  readonly #decoder = new TextDecoder();

  /** `lineMax`: a program whose lines are messages (terraform's -json) reads longer ones whole. */
  constructor(private readonly emit: (line: string) => void, private readonly budget: OutputBudget, private readonly lineMax = LINE_MAX) {}

  write(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    this.#partial = lines.pop() ?? "";
    // A line that never ends is still shown, in pieces, rather than held in memory.
    while (this.#partial.length > this.lineMax) {
      lines.push(this.#partial.slice(0, this.lineMax));
      this.#partial = this.#partial.slice(this.lineMax);
    }
    for (const line of lines) this.#line(line);
  }

  end(): void {
    const rest = this.#partial + this.#decoder.decode();
    this.#partial = "";
    if (rest !== "") this.#line(rest);
  }

  #line(line: string): void {
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (this.budget.take(Buffer.byteLength(text) + 1)) this.emit(text);
  }
}
