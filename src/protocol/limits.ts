// The sizes the edge protocol and the runner's job path hold to, defined once: the controller
// refuses what is larger, and the runner bounds what a plugin produces before it leaves.

/** Messages in one WebSocket batch frame or one long-poll send; the controller refuses more. */
export const MAX_BATCH_MESSAGES = 1000;
/** Lines in one `log` message; the controller refuses more. */
export const MAX_LOG_LINES = 1000;
/** The largest frame or long-poll body a controller accepts. */
export const MAX_FRAME_CHARS = 4 * 1024 * 1024;
/**
 * The largest WebSocket message either side takes, above MAX_FRAME_CHARS (a frame of 4 Mi
 * characters may hold more bytes): where the runtime has its own cap (Bun.serve, `ws` on Node) it
 * refuses a larger message with 1009 before buffering it.
 */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 5 * 1024 * 1024;
/**
 * The close code for a message over MAX_WEBSOCKET_MESSAGE_BYTES that arrived whole: 4009, as the
 * browser WebSocket API (Bun's and Deno's clients, Deno's server socket) takes only 1000 and
 * 3000-4999 in close() (Deno throws on 1009). Where the runtime refuses it itself (`ws`, Bun.serve) the code is 1009.
 */
export const CLOSE_MESSAGE_TOO_BIG = 4009;

/**
 * Why a WebSocket message that arrived whole is over MAX_WEBSOCKET_MESSAGE_BYTES, or undefined.
 * For the runtimes that take no cap (Bun's and Deno's clients, Deno's server): the message is
 * already in memory (within the runtime's own bound), but the connection closes as where the
 * runtime refuses it itself. A string's length in UTF-16 units is never more than its UTF-8 bytes.
 */
export function messageTooBig(data: unknown): string | undefined {
  const size = typeof data === "string" ? data.length
    : data instanceof ArrayBuffer ? data.byteLength
      : ArrayBuffer.isView(data) ? data.byteLength
        : typeof (data as { size?: unknown } | null)?.size === "number" ? (data as { size: number }).size : 0;
  if (size <= MAX_WEBSOCKET_MESSAGE_BYTES) return undefined;
  // A close reason is at most 123 bytes.
  return `Message too big: ${size} ${typeof data === "string" ? "characters" : "bytes"}, over the cap of ${MAX_WEBSOCKET_MESSAGE_BYTES} bytes`;
}
/** The runner packs its frames to about this size, well under MAX_FRAME_CHARS. */
export const PACK_FRAME_BYTES = 1024 * 1024;
/** The runner cuts a log burst into messages of at most this many lines or characters. */
export const SEND_LOG_LINES = 500;
export const SEND_LOG_CHARS = 256 * 1024;
/**
 * Characters of one job's log lines and steps the runner keeps until the controller acknowledges
 * them (a controller away or slower than the plugin); past it lines are dropped, counted and said
 * once there is room again, steps held (src/controller/edge/job-outbox.ts).
 */
export const MAX_UNACKED_LOG_CHARS = 8 * 1024 * 1024;
/** What one log line counts towards MAX_UNACKED_LOG_CHARS and SEND_LOG_CHARS: its text and its JSON around it. */
export const logLineChars = (line: { msg: string }): number => line.msg.length + 40;
/** A log line or a step message from a plugin is cut (after redaction) beyond this. */
export const MAX_LINE_CHARS = 64 * 1024;
/** Error messages are for people; a plugin that throws megabytes gets them cut (after redaction). */
export const MAX_ERROR_MESSAGE_CHARS = 16 * 1024;
/** Error codes are identifiers; the parser refuses longer ones. */
export const MAX_ERROR_CODE_CHARS = 128;
/** A result's output beyond this fails the job: it would not fit a frame the controller accepts. */
export const MAX_OUTPUT_CHARS = 1024 * 1024;
/** Names in a session answer's `features`, and the characters of each; the runner refuses more. */
export const MAX_SESSION_FEATURES = 64;
export const MAX_FEATURE_CHARS = 64;
/**
 * How long the runner waits for the controller to answer a session's creation or its transport's
 * attach (the long-poll probe and its body, the WebSocket handshake) before it gives the attempt
 * up and tries again; a stop ends the wait at once.
 */
export const CONTROLLER_CALL_TIMEOUT_MS = 30_000;
