// The host's answers to a running action's ctx.secrets, ctx.storage and ctx.artifacts calls, for
// one job attempt: secrets come from the job's resolver and are registered with the job's
// redaction scope before the plugin sees them; storage is the attempt's own (opened on first use, deleted when
// the attempt ends, every later call refused); artifacts stream to the job's artifact sink and
// are recorded with their digest for the result.

import { checkArtifactName, MAX_ARTIFACTS, type ArtifactRecord, type ArtifactSink } from "../artifacts/artifact-sink.ts";
import { digesting } from "../artifacts/artifact-digest.ts";
import { EdgeError } from "../errors.ts";
import type { RedactionScope } from "../log/redact.ts";
import { MIN_SECRET_CHARS } from "../secrets/redaction/secret-forms.ts";
import type { AttemptStorage } from "../storage/attempt-storage.ts";
import type { ObjectInfo } from "../storage/object-store.ts";
import { checkObjectOptions, checkStorageKey, checkStoragePrefix, type ObjectOptions } from "../storage/storage-keys.ts";
import type { StorageService } from "../storage/storage-service.ts";
import { CHUNK_BYTES, HostRead, HostWrite } from "./host-streams.ts";
import type { SecretResolver } from "./run-services.ts";
import type { HostCall, StoredInfo } from "./worker-protocol.ts";
import { maskRefusal } from "../secrets/redaction/mask-limits.ts";
import { SensitiveParts } from "../secrets/redaction/sensitive-parts.ts";

export { MAX_MASK_CHARS, MAX_MASKED_CHARS, MAX_MASKS } from "../secrets/redaction/mask-limits.ts";

/** Streams one attempt may have open at once (reads and writes together). */
const MAX_OPEN_STREAMS = 16;

export interface JobCallsOptions {
  jobId: string;
  attempt: number;
  secrets: SecretResolver;
  storage: StorageService;
  artifacts: ArtifactSink;
  artifactMaxBytes: number;
  /** The job's signal; called at the first call that needs it (most jobs make no host call). */
  signal: () => AbortSignal;
  /** The job's scope: every secret the plugin gets is added before it sees it. */
  redaction: RedactionScope;
  /** A warning for the job's own log (a secret too short to be masked). */
  warn?: (message: string) => void;
}

export class JobCalls {
  readonly #options: JobCallsOptions;
  readonly #label: string;
  readonly #writes = new Map<number, HostWrite<unknown>>();
  readonly #reads = new Map<number, HostRead>();
  readonly #artifacts: ArtifactRecord[] = [];
  readonly #artifactNames = new Set<string>();
  /** Made at the first artifact write: the only call that waits on the attempt's end. */
  #ended: AbortController | undefined;
  #storage: AttemptStorage | undefined;
  #nextStream = 1;
  /** Reads being opened (their get() not answered yet): they count against MAX_OPEN_STREAMS. */
  #opening = 0;
  #closed = false;
  readonly #masked = { count: 0, chars: 0 };
  /** The parts of resolved values that are JSON (a Vault field holding an object, a GCP payload of JSON text). */
  #referenceParts: SensitiveParts | undefined;
  /** Values whose parts are registered, by reference: a plugin reading one again costs no budget. */
  readonly #partsTaken = new Map<string, string>();

  constructor(options: JobCallsOptions) {
    this.#options = options;
    this.#label = `${options.jobId}#${options.attempt}`;
  }

  /** The largest artifact this job may keep, told to the plugin as ctx.artifacts.maxBytes. */
  get artifactMaxBytes(): number {
    return this.#options.artifactMaxBytes;
  }

  /** The artifacts kept so far, for the job's result. */
  get artifacts(): ArtifactRecord[] {
    return [...this.#artifacts];
  }

  async answer(call: HostCall): Promise<unknown> {
    if (this.#closed) throw new EdgeError("storage_closed", `Cannot answer "${String(call?.op)}" for job "${this.#label}": the job attempt has ended`);
    switch (call.op) {
      case "secret.get": {
        const value = await this.#options.secrets.get(String(call.ref), this.#options.signal());
        // Registered before the plugin can print it: every log line and error passes the scope.
        this.#options.redaction.add(value);
        // A value that is JSON: each string and number in it too (one rule with meshStack's inputs).
        const ref = String(call.ref);
        if (this.#partsTaken.get(ref) !== value) {
          this.#referenceParts ??= new SensitiveParts((part) => this.#options.redaction.add(part), referenceRefused);
          this.#referenceParts.plaintext(ref, value);
          this.#partsTaken.set(ref, value);
        }
        if (isTooShort(value)) this.#options.warn?.(`Secret "${String(call.ref)}" is shorter than ${MIN_SECRET_CHARS} characters: a value that short is not masked, so this job's logs and outputs can show it`);
        return value;
      }
      case "secret.mask": {
        // Registered at once, before the plugin's next message is read: its next line is masked.
        if (typeof call.value !== "string") throw new EdgeError("input_invalid", "Cannot mask a value: it must be a string");
        // Bounded per value and per attempt (mask-limits.ts); the plugin's side refuses the same first.
        const refused = maskRefusal(call.value, this.#masked, this.#label);
        if (refused !== undefined) throw new EdgeError("input_invalid", refused);
        this.#masked.count++;
        this.#masked.chars += call.value.length;
        this.#options.redaction.add(call.value);
        if (isTooShort(call.value)) this.#options.warn?.(`A value the plugin asked to mask is shorter than ${MIN_SECRET_CHARS} characters: a value that short is not masked`);
        return undefined;
      }
      case "storage.put": {
        const key = checkStorageKey(call.key, "store");
        if (!(call.data instanceof Uint8Array) || call.data.byteLength > CHUNK_BYTES) throw new EdgeError("input_invalid", `Cannot store "${key}": data must be bytes (at most ${CHUNK_BYTES} in one call)`);
        return this.#open().put(key, call.data, this.#noSecret(key, checkObjectOptions(call.options, key), "store an object"));
      }
      case "storage.head":
        return wireInfo(await this.#open().head(checkStorageKey(call.key, "inspect")));
      case "storage.delete":
        return this.#open().delete(checkStorageKey(call.key, "delete"));
      case "storage.list":
        return (await this.#open().list(checkStoragePrefix(call.prefix))).map((info) => info.key);
      case "stream.write_open":
        return this.#openWrite(call.target, call.name, call.options);
      case "stream.write":
        return this.#write(call.stream).write(call.chunk);
      case "stream.write_end": {
        const write = this.#write(call.stream);
        this.#writes.delete(call.stream);
        if (typeof call.abort === "string") {
          write.abort(new EdgeError("plugin_error", `The plugin abandoned the stream: ${call.abort.slice(0, 200)}`));
          return undefined;
        }
        return write.end();
      }
      case "stream.read_open": {
        const key = checkStorageKey(call.key, "read");
        this.#roomForStream();
        // The slot is held while the object is opened: opens racing each other all count.
        this.#opening++;
        let found;
        try {
          found = await this.#open().get(key);
        } finally {
          this.#opening--;
        }
        if (found === undefined) return undefined;
        if (this.#closed) {
          // The attempt closed while the object opened: close() has cancelled the reads it knew
          // of, so this one is cancelled here instead of being left open on a deleted object.
          await found.body.cancel().catch(() => undefined);
          throw new EdgeError("storage_closed", `Cannot read "${key}" for job "${this.#label}": the job attempt has ended`);
        }
        const id = this.#nextStream++;
        this.#reads.set(id, new HostRead(found.body));
        return { stream: id, info: wireInfo(found.info) };
      }
      case "stream.read": {
        const read = this.#reads.get(call.stream);
        if (read === undefined) throw new EdgeError("input_invalid", `Cannot read stream ${String(call.stream)} of job "${this.#label}": no such open stream`);
        let chunk;
        try {
          chunk = await read.read();
        } catch (error) {
          // A body that fails part-way (a reset connection) is over: its slot is given back here;
          // the plugin's SDK sends no read_end after a failed read (context-storage.ts).
          this.#reads.delete(call.stream);
          await read.cancel().catch(() => undefined);
          throw error;
        }
        if (chunk === null) this.#reads.delete(call.stream);
        return chunk;
      }
      case "stream.read_end": {
        const read = this.#reads.get(call.stream);
        this.#reads.delete(call.stream);
        await read?.cancel();
        return undefined;
      }
      default:
        throw new EdgeError("input_invalid", `Cannot answer host call "${String((call as { op?: unknown }).op)}": unknown operation`);
    }
  }

  /** The attempt ended: refuse further calls, abort streams in flight and delete its intermediate data. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Most attempts made no host call: nothing to end, and no error (and its stack) to build.
    if (this.#ended === undefined && this.#writes.size === 0 && this.#reads.size === 0 && this.#storage === undefined) return;
    this.#ended?.abort(new EdgeError("storage_closed", `Job attempt "${this.#label}" has ended`));
    for (const write of this.#writes.values()) write.abort(new EdgeError("storage_closed", `Job attempt "${this.#label}" has ended`));
    this.#writes.clear();
    await Promise.allSettled([...this.#reads.values()].map((read) => read.cancel()));
    this.#reads.clear();
    if (this.#storage !== undefined) await this.#options.storage.release(this.#storage);
  }

  /**
   * Refuses a key or artifact name, or a metadata value, that holds one of the job's secrets:
   * they are stored and listed as given (S3 keys and metadata, an artifact's name in the job's
   * result), where redaction cannot mask them. The error does not repeat them.
   */
  #noSecret<O extends ObjectOptions>(name: string, options: O, action: string): O {
    const redaction = this.#options.redaction;
    const texts = [name, ...Object.keys(options.metadata ?? {}), ...Object.values(options.metadata ?? {})];
    if (texts.some((text) => redaction.text(text) !== text)) {
      throw new EdgeError("input_invalid", `Cannot ${action} for job "${this.#label}": its ${action.endsWith("artifact") ? "name" : "key"} or metadata holds a secret of this job (they are stored and listed as given, never masked)`);
    }
    return options;
  }

  #openWrite(target: unknown, name: unknown, options: unknown): { stream: number } {
    this.#roomForStream();
    let write: HostWrite<unknown>;
    if (target === "storage") {
      const key = checkStorageKey(name, "store");
      const checked = this.#noSecret(key, checkObjectOptions(options, key), "store an object");
      const storage = this.#open();
      write = new HostWrite((body) => storage.put(key, body, checked));
    } else if (target === "artifact") {
      write = this.#artifactWrite(checkArtifactName(name), options);
    } else {
      throw new EdgeError("input_invalid", `Cannot open a stream to "${String(target)}": expected "storage" or "artifact"`);
    }
    const id = this.#nextStream++;
    this.#writes.set(id, write);
    return { stream: id };
  }

  #artifactWrite(name: string, options: unknown): HostWrite<ArtifactRecord> {
    if (this.#artifactNames.has(name)) throw new EdgeError("conflict", `Cannot keep artifact "${name}" for job "${this.#label}": the job already kept one by that name`);
    if (this.#artifactNames.size >= MAX_ARTIFACTS) throw new EdgeError("storage_limit", `Cannot keep artifact "${name}" for job "${this.#label}": a job keeps at most ${MAX_ARTIFACTS} artifacts`);
    const { contentType } = this.#noSecret(name, checkObjectOptions(options, name), "keep an artifact");
    this.#artifactNames.add(name);
    const ended = (this.#ended ??= new AbortController());
    const { jobId, attempt } = this.#options;
    return new HostWrite(async (source) => {
      const digest = digesting(source, this.#options.artifactMaxBytes, name);
      try {
        const stored = await this.#options.artifacts.put({ jobId, attempt, name, body: digest.body, signal: ended.signal, ...(contentType === undefined ? {} : { contentType }) });
        const { size, sha256 } = digest.done();
        if (stored.sha256 !== undefined && stored.sha256 !== sha256) throw new EdgeError("storage_failed", `Cannot keep artifact "${name}" for job "${this.#label}": the destination stored different bytes (SHA-256 ${stored.sha256.slice(0, 16)}…, sent ${sha256.slice(0, 16)}…)`);
        const record: ArtifactRecord = { name, size, sha256, ...(contentType === undefined ? {} : { contentType }) };
        this.#artifacts.push(record);
        return record;
      } catch (error) {
        this.#artifactNames.delete(name);
        throw error;
      }
    });
  }

  #write(id: unknown): HostWrite<unknown> {
    const write = typeof id === "number" ? this.#writes.get(id) : undefined;
    if (write === undefined) throw new EdgeError("input_invalid", `Cannot write stream ${String(id)} of job "${this.#label}": no such open stream`);
    return write;
  }

  #roomForStream(): void {
    if (this.#writes.size + this.#reads.size + this.#opening >= MAX_OPEN_STREAMS) throw new EdgeError("storage_limit", `Cannot open another stream for job "${this.#label}": ${MAX_OPEN_STREAMS} are open (close or read them to the end first)`);
  }

  #open(): AttemptStorage {
    this.#storage ??= this.#options.storage.open({ jobId: this.#options.jobId, attempt: this.#options.attempt });
    return this.#storage;
  }
}

function wireInfo(info: ObjectInfo | undefined): StoredInfo | undefined {
  if (info === undefined) return undefined;
  const out: StoredInfo = { key: info.key, size: info.size, lastModified: info.lastModified };
  if (info.contentType !== undefined) out.contentType = info.contentType;
  if (info.metadata !== undefined) out.metadata = info.metadata;
  return out;
}

/** Not empty, yet under the length the redactor masks (secret-forms.ts): the job is told. */
function isTooShort(value: unknown): boolean {
  return typeof value === "string" && value.length > 0 && value.length < MIN_SECRET_CHARS;
}

/** A resolved value the runner cannot mask part by part: the plugin does not get it. */
function referenceRefused(ref: string, why: string): EdgeError {
  return new EdgeError("secret_corrupt", `Cannot hand secret "${ref.slice(0, 256)}" to the plugin: ${why}; the runner could not mask each of its parts`);
}
