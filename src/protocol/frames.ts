// Splits outgoing messages into frames (WebSocket) or batches (long-poll) of at most 1,000
// messages and about 1 MiB each, well under the 4 MiB a controller accepts; both ends use it. A
// single message is never split; one larger than the limit goes alone (the job runner keeps log
// batches and outputs far below it).

import { MAX_BATCH_MESSAGES, PACK_FRAME_BYTES } from "./limits.ts";

/** JSON texts, one per frame: a single message as itself, several as an array. */
export function packFrames(messages: readonly unknown[]): string[] {
  return packTexts(messages.map((message) => JSON.stringify(message)));
}

/** The same for messages already serialized (each a JSON object's text). */
export function packTexts(texts: readonly string[]): string[] {
  const frames: string[] = [];
  let parts: string[] = [];
  let size = 0;
  const close = () => {
    if (parts.length === 1) frames.push(parts[0] as string);
    else if (parts.length > 1) frames.push(`[${parts.join(",")}]`);
    parts = [];
    size = 0;
  };
  for (const text of texts) {
    if (parts.length > 0 && (size + text.length + 1 > PACK_FRAME_BYTES || parts.length >= MAX_BATCH_MESSAGES)) close();
    parts.push(text);
    size += text.length + 1;
  }
  close();
  return frames;
}
