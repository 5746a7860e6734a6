// Credit messages that leave in one frame are folded into one: each job's end grants its freed
// slot with `credit {slots: 1}`, and a frame carries the ends of several jobs, so the controller
// parsed, validated and dispatched once per job what one message says (issue 15). Credit is
// additive unless `reset`, so the fold keeps the same total, at the position of the last credit
// in the frame: later in the frame, never earlier, so a result still goes out before its credit.

import { message, type RunnerMessage } from "../../protocol/edge-v1.ts";

/** `messages` with every credit folded into one at the last credit's place (the array itself when it holds at most one). */
export function foldCredits(messages: RunnerMessage[]): RunnerMessage[] {
  let count = 0;
  for (const m of messages) if (m.type === "credit") count++;
  if (count < 2) return messages;
  let slots = 0;
  let reset = false;
  for (const m of messages) {
    if (m.type !== "credit") continue;
    // A reset replaces what was granted before it, in this frame too.
    if (m.reset === true) {
      slots = m.slots;
      reset = true;
    } else slots += m.slots;
  }
  const folded: RunnerMessage = message({ type: "credit", slots, ...(reset ? { reset: true } : {}) });
  const out: RunnerMessage[] = [];
  let seen = 0;
  for (const m of messages) {
    if (m.type !== "credit") out.push(m);
    else if (++seen === count) out.push(folded);
  }
  return out;
}
