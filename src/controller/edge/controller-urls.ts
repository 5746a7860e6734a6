// The runner's controllers, in the order configured (`controllerUrl` as a list): one is current;
// when it cannot be reached or drops the session the next reconnect goes to the next one, and
// after the last to the first again. Replicas share one database, so any of them takes the
// runner's session and its outbox replay.

import { publicUrl } from "../../config/url.ts";
import type { ControllerUrlStatus } from "../connection.ts";

export class ControllerUrls {
  readonly #urls: readonly string[];
  #index = 0;
  #failovers = 0;

  constructor(urls: string | readonly string[]) {
    this.#urls = typeof urls === "string" ? [urls] : [...urls];
    if (this.#urls.length === 0) throw new RangeError("ControllerUrls needs at least one URL");
  }

  get current(): string {
    return this.#urls[this.#index] as string;
  }

  get count(): number {
    return this.#urls.length;
  }

  /** Moves to the next URL, cycling; with a single URL it stays. Returns the new current one. */
  next(): string {
    if (this.#urls.length > 1) {
      this.#index = (this.#index + 1) % this.#urls.length;
      this.#failovers++;
    }
    return this.current;
  }

  status(): ControllerUrlStatus {
    return { url: publicUrl(this.current), index: this.#index, count: this.#urls.length, failovers: this.#failovers };
  }

  /** " at <url>" when there is more than one to choose from, for log lines; nothing otherwise. */
  where(): string {
    return this.#urls.length > 1 ? ` at "${publicUrl(this.current)}"` : "";
  }
}
