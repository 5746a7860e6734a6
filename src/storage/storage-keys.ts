// What a plugin may name and attach: keys every backend can hold (a file name and an S3 key alike),
// a content type and a little metadata, all bounded before they reach a backend. And where an
// attempt's objects live: `<runnerId>/<jobId>/<attempt>/`, with the ids encoded so neither can
// climb out of its segment.

import { sha256 } from "../util/sha256.ts";
import { EdgeError } from "../errors.ts";

const KEY = /^[A-Za-z0-9_-][A-Za-z0-9._/-]{0,199}$/;
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,64}\/[A-Za-z0-9!#$&^_.+-]{1,64}(\s*;\s*[A-Za-z0-9!#$&^_.+-]{1,64}=[A-Za-z0-9!#$&^_.+"-]{1,64}){0,4}$/;
const META_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const META_VALUE = /^[\x20-\x7e]{0,1024}$/;
/** S3 allows 2 KiB of user metadata per object (names and values together). */
const META_MAX_BYTES = 2048;
const META_MAX_ENTRIES = 16;

/** Throws EdgeError `input_invalid` unless `key` is a storage key every backend can hold (no `..`, no absolute path). */
export function checkStorageKey(key: unknown, action: string): string {
  if (typeof key !== "string" || !KEY.test(key) || key.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new EdgeError("input_invalid", `Cannot ${action} "${String(key).slice(0, 100)}": a storage key is 1 to 200 characters of letters, digits and "._-/", not starting with "." or "/", without empty, "." or ".." segments`);
  }
  return key;
}

/** A list prefix: empty, or the start of a key (the same characters, any length up to 200). */
export function checkStoragePrefix(prefix: unknown): string {
  if (prefix === undefined || prefix === "") return "";
  if (typeof prefix !== "string" || prefix.length > 200 || !/^[A-Za-z0-9_-][A-Za-z0-9._/-]*$/.test(prefix)) {
    throw new EdgeError("input_invalid", `Cannot list "${String(prefix).slice(0, 100)}": a prefix is up to 200 characters of letters, digits and "._-/", not starting with "." or "/"`);
  }
  return prefix;
}

export interface ObjectOptions {
  contentType?: string;
  metadata?: Record<string, string>;
}

/** Checks a plugin's put options; throws EdgeError `input_invalid` naming the field. */
export function checkObjectOptions(options: unknown, key: string): ObjectOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object") throw new EdgeError("input_invalid", `Cannot store "${key}": options must be an object`);
  const { contentType, metadata } = options as { contentType?: unknown; metadata?: unknown };
  const out: ObjectOptions = {};
  if (contentType !== undefined) {
    if (typeof contentType !== "string" || !CONTENT_TYPE.test(contentType)) throw new EdgeError("input_invalid", `Cannot store "${key}": contentType "${String(contentType).slice(0, 100)}" is not a media type such as "application/json"`);
    out.contentType = contentType;
  }
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) throw new EdgeError("input_invalid", `Cannot store "${key}": metadata must be an object of strings`);
    const entries = Object.entries(metadata);
    if (entries.length > META_MAX_ENTRIES) throw new EdgeError("input_invalid", `Cannot store "${key}": metadata has ${entries.length} entries, at most ${META_MAX_ENTRIES} are allowed`);
    let bytes = 0;
    const checked: Record<string, string> = {};
    for (const [name, value] of entries) {
      if (!META_NAME.test(name)) throw new EdgeError("input_invalid", `Cannot store "${key}": metadata name "${name.slice(0, 64)}" must be lower-case letters, digits and "-" (64 at most)`);
      if (typeof value !== "string" || !META_VALUE.test(value)) throw new EdgeError("input_invalid", `Cannot store "${key}": metadata "${name}" must be printable ASCII of at most 1024 characters`);
      bytes += name.length + value.length;
      checked[name] = value;
    }
    if (bytes > META_MAX_BYTES) throw new EdgeError("input_invalid", `Cannot store "${key}": metadata is ${bytes} bytes, over the limit of ${META_MAX_BYTES}`);
    out.metadata = checked;
  }
  return out;
}

export interface AttemptId {
  jobId: string;
  attempt: number;
}

/**
 * Longest encoded id kept as it is. A segment is a directory name on the local backend (`.d`
 * added; 255 bytes is the usual limit) and part of an S3 key (1024 bytes in all).
 */
export const MAX_SEGMENT_CHARS = 200;
/** Readable characters kept before the hash of a longer id. */
const SEGMENT_HEAD_CHARS = 120;

/**
 * One id as one key segment: URL-encoded with "." as %2E, so "/" and ".." stay inside it (the
 * encoding the storage has always used: a runner's prefix must not change between versions, or
 * its sweeper would never look where a crash of the previous version left objects). An id longer
 * than MAX_SEGMENT_CHARS encoded (a 1024-character job id, or 28 CJK characters at 9 bytes each
 * encoded) becomes its first SEGMENT_HEAD_CHARS encoded characters, "." and the SHA-256 of the
 * whole id in hex: a fixed length, the same in every process (the sweeper finds it after a
 * restart), distinct for distinct ids. No short form holds a "." (encodeURIComponent leaves "."
 * as it is, and it is turned into %2E), so no id's short form is another's long form.
 */
export function keySegment(id: string): string {
  const encoded = encodeSegment(id);
  if (encoded.length <= MAX_SEGMENT_CHARS) return encoded;
  // Whole characters only, so the head still decodes.
  let head = "";
  for (const char of id) {
    const next = encodeSegment(char);
    if (head.length + next.length > SEGMENT_HEAD_CHARS) break;
    head += next;
  }
  // The plain-JS digest (util/sha256.ts): this module is on `run`'s start path, which loads no
  // node:crypto (test/performance/lazy-modules.test.ts), and a long id is rare and short.
  return `${head}.${Buffer.from(sha256(new TextEncoder().encode(id))).toString("hex")}`;
}

function encodeSegment(text: string): string {
  return encodeURIComponent(text).replace(/\./g, "%2E");
}

/** `<runnerId>/` : everything one runner writes, and the only place its sweeper looks. */
export function runnerPrefix(runnerId: string): string {
  return `${keySegment(runnerId)}/`;
}

/**
 * Where versions before long ids were hashed kept this runner's objects, when that differs from
 * runnerPrefix(): a runner id over MAX_SEGMENT_CHARS encoded was used whole. The sweeper looks
 * there too, so what a crash of such a version left is still deleted.
 */
export function unhashedRunnerPrefix(runnerId: string): string | undefined {
  const whole = `${encodeSegment(runnerId)}/`;
  return whole === runnerPrefix(runnerId) ? undefined : whole;
}

/** `<runnerId>/<jobId>/<attempt>/` */
export function attemptPrefix(runnerId: string, job: AttemptId): string {
  return `${runnerPrefix(runnerId)}${keySegment(job.jobId)}/${job.attempt}/`;
}

/** What keySegment() can make: encodeURIComponent's characters and escapes (the long form adds "." and hex). */
const KEY_SEGMENT = /^(?:[A-Za-z0-9_.!~*'()-]|%[0-9A-Fa-f]{2})+$/;

/** True for `<runnerPrefix><job>/` whose job segment keySegment() could have made (never ".", ".." or empty). */
export function isJobPrefix(runnerPrefixText: string, prefix: string): boolean {
  if (!prefix.startsWith(runnerPrefixText) || !prefix.endsWith("/")) return false;
  const segment = prefix.slice(runnerPrefixText.length, -1);
  return segment !== "." && segment !== ".." && KEY_SEGMENT.test(segment);
}

/** `key`, refused unless it lies under `prefix`: a deletion of a prefix deletes nothing else, whoever listed its keys. */
export function keyUnder(prefix: string, key: string): string {
  if (!key.startsWith(prefix)) throw new EdgeError("storage_failed", `Cannot delete the objects under "${prefix}": "${key.slice(0, 200)}" is not under it`);
  return key;
}

/** The attempt prefix a full key belongs to, or undefined when the key is not `<runner>/<job>/<attempt>/…`. */
export function attemptOf(runnerPrefixText: string, key: string): string | undefined {
  if (!key.startsWith(runnerPrefixText)) return undefined;
  const rest = key.slice(runnerPrefixText.length).split("/");
  if (rest.length < 3 || rest[0] === "" || !/^[0-9]+$/.test(rest[1] ?? "")) return undefined;
  return `${runnerPrefixText}${rest[0]}/${rest[1]}/`;
}
