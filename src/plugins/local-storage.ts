// Intermediate job data in a local directory: `<dir>/<jobId>.<attempt>/`, one file per key (the
// key URL-encoded, so "a/b" is one flat file). Deleted when the job ends; swept at start after a crash.

import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import type { JobStorage, JobStorageProvider } from "./run-services.ts";

export interface LocalStorageOptions {
  /** Usually `<dataDir>/storage`. */
  dir: string;
}

export class LocalStorageProvider implements JobStorageProvider {
  readonly #dir: string;

  constructor(options: LocalStorageOptions) {
    this.#dir = options.dir;
  }

  open(job: { jobId: string; attempt: number }): JobStorage {
    return new LocalJobStorage(join(this.#dir, `${encodeURIComponent(job.jobId)}.${job.attempt}`), `${job.jobId}#${job.attempt}`);
  }

  async sweep(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}

class LocalJobStorage implements JobStorage {
  readonly #dir: string;
  readonly #label: string;
  readonly #inFlight = new Set<Promise<unknown>>();
  #created: Promise<unknown> | undefined;
  #destroyed = false;

  constructor(dir: string, label: string) {
    this.#dir = dir;
    this.#label = label;
  }

  put(key: string, data: Uint8Array): Promise<void> {
    return this.#track("store", key, async () => {
      this.#created ??= mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await this.#created;
      // Temp file and rename so a concurrent get sees all or nothing; no fsync: the data dies with the job.
      const temp = join(this.#dir, `.${randomBytes(6).toString("hex")}.tmp`);
      await writeFile(temp, data, { mode: 0o600 });
      await rename(temp, this.#file(key));
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#track("read", key, async () => {
      try {
        return new Uint8Array(await readFile(this.#file(key)));
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") return undefined;
        throw error;
      }
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#track("delete", key, async () => {
      try {
        await unlink(this.#file(key));
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") return false;
        throw error;
      }
    });
  }

  list(prefix: string): Promise<string[]> {
    return this.#track("list", prefix, async () => {
      let names: string[];
      try {
        names = await readdir(this.#dir);
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") return [];
        throw error;
      }
      return names.filter((n) => !n.startsWith(".")).map((n) => decodeURIComponent(n)).filter((k) => k.startsWith(prefix)).sort();
    });
  }

  async destroy(): Promise<void> {
    this.#destroyed = true;
    // A write still running would recreate the directory after rm: let it land first.
    await Promise.allSettled([...this.#inFlight]);
    await rm(this.#dir, { recursive: true, force: true });
  }

  #file(key: string): string {
    return join(this.#dir, encodeURIComponent(key));
  }

  #track<T>(action: string, key: string, work: () => Promise<T>): Promise<T> {
    if (this.#destroyed) return Promise.reject(new EdgeError("job_cancelled", `Cannot ${action} "${key}" for job "${this.#label}": the job has ended`));
    const promise = work().catch((error: unknown) => {
      throw new EdgeError("internal", `Cannot ${action} "${key}" for job "${this.#label}": ${errorMessage(error)}`);
    });
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }
}
