// The last 64 KiB of a command's stdout, kept for its "stdout" output. Cut at line starts only:
// the runner redacts the output after the plugin returns it, and a cut inside a line could leave
// the end of a secret that no longer matches (the beginning gone). A line longer than the whole
// tail is dropped, not returned from its middle. Bytes are decoded as one stream, so a character
// split between two pipe chunks stays whole (two U+FFFD halves would hide a secret around them).

export const STDOUT_TAIL = 64 * 1024;

export class StdoutTail {
  readonly #decoder = new TextDecoder();
  readonly #limit: number;
  #text = "";
  /** Inside a line whose start was dropped: everything up to its end goes too. */
  #dropping = false;

  constructor(limit = STDOUT_TAIL) {
    this.#limit = limit;
  }

  write(chunk: Uint8Array): void {
    this.#add(this.#decoder.decode(chunk, { stream: true }));
  }

  /** The kept text, once the command's stdout has ended. */
  end(): string {
    this.#add(this.#decoder.decode());
    return this.#text;
  }

  #add(piece: string): void {
    if (this.#dropping) {
      const newline = piece.indexOf("\n");
      if (newline < 0) return;
      this.#dropping = false;
      piece = piece.slice(newline + 1);
    }
    this.#text += piece;
    if (this.#text.length <= this.#limit) return;
    const window = this.#text.slice(-this.#limit);
    const newline = window.indexOf("\n");
    // The window starts at a line start when the character before it ends a line.
    if (this.#text[this.#text.length - this.#limit - 1] === "\n") this.#text = window;
    else if (newline >= 0) this.#text = window.slice(newline + 1);
    else {
      this.#text = "";
      this.#dropping = true;
    }
  }
}
