// Doctor check: the data directory exists, belongs to the runner's user, is not writable by
// others, and accepts a new file (plugin cache, queue and keys live there).

import { randomBytes } from "node:crypto";
import { rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../../errors.ts";
import type { DoctorCheck } from "../check.ts";

export const dataDirCheck: DoctorCheck = {
  id: "data-dir",
  title: "data directory",
  needs: ["config"],
  async run(ctx) {
    const dir = ctx.state.config!.dataDir;
    const create = `install -d -m 0700 -o "$(id -un)" "${dir}"`;
    let info;
    try {
      info = await stat(dir);
    } catch (error) {
      return { status: "fail", summary: `"${dir}" cannot be read: ${errorMessage(error)}`, fix: create };
    }
    if (!info.isDirectory()) return { status: "fail", summary: `"${dir}" is not a directory`, fix: `move it away, then ${create}` };
    const mode = info.mode & 0o777;
    const octal = mode.toString(8).padStart(4, "0");
    if (ctx.uid !== undefined && info.uid !== ctx.uid) {
      return { status: "fail", summary: `"${dir}" is owned by uid ${info.uid}, not by uid ${ctx.uid} who runs this check`, fix: `chown -R ${ctx.uid} "${dir}", or run doctor as the runner's user` };
    }
    if ((mode & 0o022) !== 0) return { status: "fail", summary: `"${dir}" has mode ${octal}: other users can write to it`, fix: `chmod 700 "${dir}"` };
    const probe = join(dir, `.doctor-${randomBytes(4).toString("hex")}`);
    try {
      await writeFile(probe, "", { flag: "wx", mode: 0o600 });
    } catch (error) {
      return { status: "fail", summary: `"${dir}" is not writable: ${errorMessage(error)}`, fix: `chmod u+w "${dir}"; under systemd it must be the StateDirectory` };
    } finally {
      await rm(probe, { force: true });
    }
    const notes = (mode & 0o077) !== 0 ? [`mode ${octal}: other users can list it; 0700 is recommended`] : [];
    return { status: "pass", summary: `"${dir}" is writable (mode ${octal})`, notes };
  },
};
