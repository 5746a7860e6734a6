// How much of the embedded store's growing files is read back at start, derived from what the
// controller lets into them: a file (or a line) past its bound was not written by this store (a
// corrupted disk, a copied or hand-made file, a bug), and reading it whole could take gigabytes
// of memory before failing. Replay reads journals a line at a time (src/util/read-lines.ts) and
// the snapshot through src/util/read-file-bounded.ts.

import { constants } from "node:buffer";
import { MAX_FRAME_CHARS } from "../protocol/limits.ts";
import { STORED_JSON_BOUNDS, type JsonBounds } from "../util/json-bounds.ts";

/**
 * A job's input as stored, its secret inputs encrypted in (one JWE per runner key of the group,
 * so it grows with the group): a submit past it is refused (413), which keeps a job's journal
 * line under MAX_JOURNAL_LINE_BYTES. 50 secret inputs of 64 KiB fit 7 runner keys; 50 of 1 KiB, 400.
 */
export const MAX_STORED_INPUT_BYTES = 32 * 1024 * 1024;

/**
 * The bounds of an input with its secret inputs encrypted in, checked at submit: the input itself
 * was checked against STORED_JSON_BOUNDS (1 MiB) before, so only the size differs.
 */
export const STORED_INPUT_BOUNDS: JsonBounds = { maxDepth: STORED_JSON_BOUNDS.maxDepth, maxBytes: MAX_STORED_INPUT_BYTES };

/**
 * The longest line of the state journal (`journal.jsonl`). The largest record is a job's: its
 * input (STORED_INPUT_BOUNDS: 32 MiB as estimated, JWEs are ASCII, and the 1 MiB estimated before
 * them up to 6 bytes a character once escaped: 37 MiB), its result from one runner frame (output,
 * artifacts and error: at most MAX_FRAME_CHARS characters, at most 3 UTF-8 bytes each, and a
 * sensitive output sealed in base64, 4/3 of that: 16 MiB), a callback result (a 1 MiB body), an
 * approval (an 8 KiB body) and short fields: under 55 MiB. A runner's record is a 64 KiB body at
 * most. A longer line is a corrupt record: skipped and logged.
 */
export const MAX_JOURNAL_LINE_BYTES = 64 * 1024 * 1024;

/**
 * The longest line of the event journal (`events/*.jsonl`): one event, the log lines of one
 * runner frame (MAX_FRAME_CHARS characters, at most 3 UTF-8 bytes each once stored: 12 MiB) and
 * the controller's own fields (a job id of at most 1,024 characters, counters); a callback's
 * lines come in a 1 MiB body, a step's texts are cut to 32 KiB each. A longer line is corrupt.
 */
export const MAX_EVENT_LINE_BYTES = 4 * MAX_FRAME_CHARS;

/**
 * The largest snapshot (`snapshot.json`) read at start: the largest this runtime can write, and
 * so can read. The store has no job count limit (finished jobs are kept for `jobRetentionMs`, as
 * many as were submitted), so no product of counts bounds it; what does is that compaction writes
 * it as one JSON.stringify() string, at most MAX_STRING_LENGTH UTF-16 units (V8: 2^29 - 24, Node
 * and Deno; JavaScriptCore: 2^31 - 1, Bun) of at most 3 UTF-8 bytes each, and that it is read
 * into one Buffer (at most MAX_LENGTH bytes, 4 GiB). Node: 1.5 GiB; Bun: 4 GiB - 1. A
 * compaction that would write a larger one fails instead (logged, retried, the journal kept
 * whole), so the store never writes a snapshot its next start refuses.
 */
export const MAX_SNAPSHOT_BYTES = Math.min(3 * constants.MAX_STRING_LENGTH, constants.MAX_LENGTH - 1);

/**
 * The most event bytes (as stored) one `GET /api/v1/jobs/:id/logs` page holds: its `limit` of
 * events (up to 10,000) could otherwise be gigabytes; it ends before the event that would pass
 * this (never before the first, at most MAX_EVENT_LINE_BYTES), well under the CLI's 64 MiB cap
 * on an admin answer. The client asks again from `nextSeq`.
 */
export const MAX_LOG_PAGE_BYTES = 16 * 1024 * 1024;
