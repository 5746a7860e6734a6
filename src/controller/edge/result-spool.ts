// Results that outlive the runner process. A job's result waits in memory (job-outbox.ts) until
// the controller acknowledges it; a controller away for minutes and a runner restarted meanwhile
// (an upgrade, a crash, SIGKILL) lost it, and the job ran again once its lease lapsed. A result
// not acknowledged within a second, or finished while there is no session, is written here with
// the log lines and steps before it that are not acknowledged either; at the next start the
// runner sends them on its first session, before any new job. The file goes once the controller
// answers. Sealed (AES-256-GCM) with the spool's own key file (`<runnerKeyDir>/results.key`, 0600,
// made at the first save, beside the runner's private key): a result's output may hold sensitive
// values, and a copy of the data directory without its keys reads nothing. Files were sealed with
// a key derived from the runner's API key before (version 1); those still open with that key,
// but a new API key (`runner register --rotate`) could not open them and their results were lost,
// so the seal no longer depends on the API key.

import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { parseRunnerMessage, type JobOffer, type RunnerMessage } from "../../protocol/edge-v1.ts";
import { MAX_OUTPUT_CHARS, MAX_UNACKED_LOG_CHARS } from "../../protocol/limits.ts";
import type { AtRestCipher } from "../../secrets/at-rest.ts";
import type { AtRestKeyRing } from "../../secrets/at-rest-ring.ts";
import { writeFileAtomic } from "../../util/atomic-write.ts";
import { OWN_FILE, readTextFileBounded } from "../../util/read-file-bounded.ts";
import { JobOutbox, type JobOutboxOptions } from "./job-outbox.ts";
import { SPOOL_FILE_SUFFIX as SUFFIX, type ResultSpooling } from "./result-spool-front.ts";

export interface ResultSpoolOptions {
  /** `<dataDir>/results` */
  dir: string;
  /** The runner's API key: opens files of version 1, sealed with a key derived from it (HKDF). */
  apiKey: string;
  /** The key file that seals (and opens) files of version 2: `<runnerKeyDir>/results.key`, made when missing. */
  keyFile: string;
  logger: Logger;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** How long a result may wait for its ack before it is written; default 1000 ms. */
  afterMs?: number;
}

/**
 * The largest file a save writes: the outbox keeps MAX_UNACKED_LOG_CHARS of lines and steps and a
 * result of MAX_OUTPUT_CHARS; in JSON a character takes up to 6 bytes (a control character: the
 * \x1b of a coloured line is \u001b), 1 MiB more for the rest of the messages, and sealed in
 * base64, 4 bytes for 3 (about 73 MiB). A bigger file is not ours: refused before it is read, left
 * in place. (It was 32 Mi characters, which refused a result with 8 MiB of coloured CJK lines.)
 */
const MAX_FILE_BYTES = Math.ceil((((MAX_UNACKED_LOG_CHARS + MAX_OUTPUT_CHARS) * 6 + 1024 * 1024) * 4) / 3);
const context = (key: string): string => `edge result ${key}`;
const KEY_ID = /^[0-9a-f]{16}$/;

export class ResultSpool implements ResultSpooling {
  readonly dir: string;
  readonly #o: ResultSpoolOptions;
  /** Read at the first save or restore: an idle runner with nothing saved never loads node:crypto (test/performance/lazy-modules.test.ts). */
  #ring: Promise<AtRestKeyRing> | undefined;
  /** Opens files of version 1 (sealed with a key derived from the API key). */
  #legacy: Promise<AtRestCipher> | undefined;
  readonly #log: Logger;
  /** Per job attempt: the last write or removal, so a removal never overtakes a write. */
  readonly #ops = new Map<string, Promise<void>>();
  readonly #saved = new Set<string>();
  /** Results waiting for their answer: since this period, and since the one before (written at the next tick). */
  #fresh = new Set<JobOutbox>();
  #due = new Set<JobOutbox>();
  #ticking: Promise<void> | undefined;

  constructor(options: ResultSpoolOptions) {
    this.#o = options;
    this.dir = options.dir;
    this.#log = options.logger.child({ component: "result-spool" });
  }

  /**
   * A result was sent (or not: no session): written at once without a session, otherwise when it
   * is still unanswered one to two `afterMs` later. One timer for all of them, not one per job:
   * nearly every result is answered in milliseconds.
   */
  resultPending(outbox: JobOutbox, connected: boolean): void {
    if (!connected) return void this.#save(outbox);
    this.#fresh.add(outbox);
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = undefined));
  }

  async #tick(): Promise<void> {
    while (this.#fresh.size > 0 || this.#due.size > 0) {
      await this.#o.sleep(this.#o.afterMs ?? 1000);
      for (const outbox of this.#due) if (!outbox.done) void this.#save(outbox);
      this.#due = this.#fresh;
      this.#fresh = new Set();
    }
  }

  /** The controller answered (or the attempt was given up): its file goes. */
  answered(outbox: JobOutbox): void {
    if (!this.#saved.has(outbox.key)) return;
    this.#saved.delete(outbox.key);
    this.#then(outbox.key, () => rm(this.#path(outbox.key), { force: true }).catch((error: unknown) => {
      this.#log.warn(`Cannot remove the saved result of job attempt "${outbox.key}"; it is sent again at the next start and acknowledged again: ${errorMessage(error)}`);
    }));
  }

  /** On the way out: every result still unanswered is written now. */
  async saveAll(outboxes: Iterable<JobOutbox>): Promise<void> {
    for (const outbox of outboxes) void this.#save(outbox);
    await Promise.all([...this.#ops.values()]);
  }

  /**
   * The results a previous process left, as outboxes that replay them on the first session. A
   * file that cannot be read or opened (another API key, corrupt) is logged and left in place.
   */
  async restore(send: (messages: RunnerMessage[]) => boolean | void, onDone: (job: JobOutbox) => void, options: JobOutboxOptions = {}): Promise<JobOutbox[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const restored: JobOutbox[] = [];
    for (const name of names.filter((n) => n.endsWith(SUFFIX))) {
      const file = join(this.dir, name);
      try {
        const { job, messages } = await this.#open(await readTextFileBounded(file, MAX_FILE_BYTES, OWN_FILE));
        const outbox = JobOutbox.restore(job, messages, send, onDone, options);
        this.#saved.add(outbox.key);
        restored.push(outbox);
      } catch (error) {
        this.#log.error(`Cannot read the saved result "${file}"; left in place: ${errorMessage(error)}`);
      }
    }
    if (restored.length > 0) this.#log.info(`Sending ${restored.length} job results a previous run of this runner could not report`, { jobs: restored.map((o) => o.key).slice(0, 20) });
    return restored;
  }

  #save(outbox: JobOutbox): Promise<void> {
    const messages = outbox.unanswered();
    if (messages === undefined) return Promise.resolve();
    const key = outbox.key;
    this.#saved.add(key);
    return this.#then(key, async () => {
      if (outbox.done) return;
      try {
        // `sealedBy`: the id of the key that sealed it (never the key), to open it after a rotation.
        const { sealed, key: sealedBy } = (await this.#keys()).seal(JSON.stringify({ job: outbox.job, messages }), context(key));
        await writeFileAtomic(this.#path(key), JSON.stringify({ v: 2, key, sealedBy, sealed }), { mode: 0o600, dirMode: 0o700 });
      } catch (error) {
        this.#log.error(`Cannot save the result of job attempt "${key}" while it waits for the controller; a restart before it is acknowledged runs the job again: ${errorMessage(error)}`);
      }
    });
  }

  /** The key file and the keys a rotation kept beside it (AtRestKeyRing); a key file others can read is refused. */
  #keys(): Promise<AtRestKeyRing> {
    this.#ring ??= import("../../secrets/at-rest-ring.ts").then(({ AtRestKeyRing }) => AtRestKeyRing.load(this.#o.keyFile, "result spool")!);
    // A refusal is not kept: the next save reads the file again (its mode may have been fixed).
    this.#ring.catch(() => (this.#ring = undefined));
    return this.#ring;
  }

  #legacyCipher(): Promise<AtRestCipher> {
    this.#legacy ??= Promise.all([import("node:crypto"), import("../../secrets/at-rest.ts")]).then(([crypto, { AtRestCipher }]) =>
      new AtRestCipher(Buffer.from(crypto.hkdfSync("sha256", this.#o.apiKey, Buffer.alloc(0), "edge-runner result spool", 32)), "result spool"));
    return this.#legacy;
  }

  async #open(text: string): Promise<{ job: JobOffer; messages: RunnerMessage[] }> {
    const file = JSON.parse(text) as { v?: unknown; key?: unknown; sealedBy?: unknown; sealed?: unknown } | null;
    if (file === null || (file.v !== 1 && file.v !== 2) || typeof file.key !== "string" || typeof file.sealed !== "string") throw new Error("not a saved result of this runner version");
    // The id of the key that sealed it (AtRestCipher.id) goes into a file name in the message below.
    if (file.v === 2 && !(typeof file.sealedBy === "string" && KEY_ID.test(file.sealedBy))) throw new Error("not a saved result of this runner version");
    let plain: string;
    if (file.v === 1) {
      try {
        plain = (await this.#legacyCipher()).open(file.sealed, context(file.key));
      } catch {
        throw new Error("it was written by an earlier version of the runner, sealed with a key derived from the API key it had then, and the current API key does not open it (was the key changed with runner register --rotate?), or it was altered; start the runner once with the earlier API key to send it");
      }
    } else {
      const sealedBy = file.sealedBy as string;
      const ring = await this.#keys();
      try {
        plain = ring.open(file.sealed, context(file.key), sealedBy).plain;
      } catch {
        // A key kept beside the key file under its id is read like one a rotation kept (AtRestKeyRing).
        const { retainedKeyFile } = await import("../../secrets/at-rest-ring.ts");
        throw new Error(`no key of "${this.#o.keyFile}" opens it (sealed by key ${sealedBy}: was the key file replaced or lost?) or it was altered; to send it, put that key file back as "${retainedKeyFile(this.#o.keyFile, sealedBy)}" and restart the runner`);
      }
    }
    const body = JSON.parse(plain) as { job?: JobOffer; messages?: unknown };
    const job = body.job;
    if (job === undefined || typeof job.id !== "string" || !Number.isInteger(job.attempt) || `${job.id}#${job.attempt}` !== file.key || !Array.isArray(body.messages)) throw new Error("not a saved result of this runner version");
    const messages: RunnerMessage[] = [];
    for (const raw of body.messages) {
      const parsed = parseRunnerMessage(raw);
      if (!parsed.ok) throw new Error(`a saved message is invalid: ${parsed.error.message}`);
      const m = parsed.message;
      if (!(m.type === "log" || m.type === "step" || m.type === "result") || m.jobId !== job.id || m.attempt !== job.attempt) throw new Error("a saved message is not one of this job attempt's");
      messages.push(m);
    }
    if (messages.at(-1)?.type !== "result") throw new Error("the saved messages do not end with the result");
    return { job, messages };
  }

  #then(key: string, op: () => Promise<void>): Promise<void> {
    const next = (this.#ops.get(key) ?? Promise.resolve()).then(op);
    this.#ops.set(key, next);
    void next.finally(() => {
      if (this.#ops.get(key) === next) this.#ops.delete(key);
    });
    return next;
  }

  #path(key: string): string {
    return join(this.dir, `${fileStem(key)}${SUFFIX}`);
  }
}

/** 64 bits of two FNV-1a style hashes of the attempt's key: a file name whatever the job id holds (the file names its key inside). */
function fileStem(key: string): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}
