// The credit a runner's session grants (docs/protocol.md, "credit"): the controller offers at most
// as many jobs as the runner granted and has not used. The target is the free slots, plus the room
// to hold offered jobs (local prefetch) only where the controller takes held jobs back (it listed
// `release`); the unused credit follows the target up with more, and down with a reset (drain).

import { message, type RunnerMessage } from "../../protocol/edge-v1.ts";

export class SessionCredit {
  #freeSlots = 0;
  /** Offers the runner would hold beyond its free slots: credit only while the controller releases. */
  #holdRoom = 0;
  /** Credit granted in this session and not yet used by an offer. */
  #unused = 0;
  /** The controller of the current (or last) session listed `release`; undefined before any session. */
  releases: boolean | undefined;

  /** What the runner can take now: `free` slots, and `hold` more to hold beyond them. */
  set(free: number, hold: number): void {
    this.#freeSlots = Math.max(0, free);
    this.#holdRoom = Math.max(0, hold);
  }

  /** A new session starts with nothing granted. */
  restart(): void {
    this.#unused = 0;
  }

  /** An offer used one credit. */
  offered(): void {
    this.#unused = Math.max(0, this.#unused - 1);
  }

  /** The credit message that brings the unused credit to the target, if it is not there; counted as sent. */
  next(): RunnerMessage | undefined {
    const target = this.#freeSlots + (this.releases === true ? this.#holdRoom : 0);
    const more = target - this.#unused;
    if (more === 0) return undefined;
    if (more > 0) {
      this.#unused += more;
      return message({ type: "credit", slots: more });
    }
    this.#unused = target;
    return message({ type: "credit", slots: target, reset: true });
  }
}
