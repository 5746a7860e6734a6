// One controller per data directory: two processes appending to one journal would corrupt it,
// so the second refuses to start while the first is alive.

import * as fs from "node:fs";
import { EdgeError } from "../errors.ts";
import { FileTooLargeError, readTextFileBoundedSync } from "../util/read-file-bounded.ts";

export class ControllerLock {
  readonly #file: string;

  private constructor(file: string) {
    this.#file = file;
  }

  /** Takes the lock, replacing one left by a process that no longer runs. */
  static acquire(file: string): ControllerLock {
    for (let tries = 0; tries < 2; tries++) {
      let fd: number | undefined;
      try {
        fd = fs.openSync(file, "wx", 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      if (fd !== undefined) {
        try {
          fs.writeSync(fd, String(process.pid));
        } catch (error) {
          // A full disk: the empty lock file still marks the directory taken (a later start that
          // finds it empty takes it over), and the controller starts to serve reads.
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC" && (error as NodeJS.ErrnoException).code !== "EDQUOT") throw error;
        } finally {
          fs.closeSync(fd);
        }
        return new ControllerLock(file);
      }
      // A pid is a few digits; a bigger file is not a lock this controller wrote: taken over, as an empty one.
      let pid = Number.NaN;
      try {
        pid = Number(readTextFileBoundedSync(file, 64).trim());
      } catch (error) {
        if (!(error instanceof FileTooLargeError)) throw error;
      }
      if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new EdgeError("conflict", `Cannot start the controller: data directory is in use by process ${pid} (lock "${file}")`);
      }
      fs.rmSync(file, { force: true });
    }
    throw new EdgeError("conflict", `Cannot start the controller: cannot take the lock "${file}"`);
  }

  release(): void {
    fs.rmSync(this.#file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
