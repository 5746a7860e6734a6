// Puts the job's Terraform module into its own working directory: a git clone (HTTPS, or SSH
// with a private key and a known-hosts line from secrets, host keys always checked) or a copy of
// a local directory. Each job gets its own copy, so concurrent runs never share one.

import { cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EdgeError } from "../../../errors.ts";
import { runCommand } from "../../processes/run-command.ts";
import type { ActionContext } from "../../sdk.ts";
import { insideDir } from "../work-dir.ts";

export interface ModuleSource {
  git?: string;
  ref?: string;
  path?: string;
  local?: string;
  sshKeyRef?: string;
  knownHostsRef?: string;
  /** The key and known-hosts line as values (a meshStack run, decrypted by the adapter). */
  sshKey?: string;
  knownHosts?: string;
}

/** Fetches the module into `<workDir>/module`; returns the directory Terraform runs in. */
export async function fetchModule(source: ModuleSource, workDir: string, env: Record<string, string>, ctx: ActionContext): Promise<string> {
  const target = join(workDir, "module");
  if (source.local !== undefined) {
    ctx.log.info(`Copying module from ${source.local}`);
    await cp(source.local, target, { recursive: true, errorOnExist: false }).catch((error: Error) => {
      throw new EdgeError("input_invalid", `Cannot copy module from "${source.local}": ${error.message}`);
    });
  } else if (source.git !== undefined) {
    const gitEnv: Record<string, string> = { ...env, GIT_TERMINAL_PROMPT: "0" };
    const sshKey = source.sshKey ?? (source.sshKeyRef === undefined ? undefined : await ctx.secrets.get(source.sshKeyRef));
    if (sshKey !== undefined) {
      const key = join(workDir, ".ssh-key");
      const hosts = join(workDir, ".known-hosts");
      await writeFile(key, ensureNewline(sshKey), { mode: 0o600 });
      const knownHosts = source.knownHosts ?? (source.knownHostsRef === undefined ? undefined : await ctx.secrets.get(source.knownHostsRef));
      if (knownHosts === undefined) throw new EdgeError("input_invalid", "Cannot clone over SSH without a known-hosts line (module.knownHostsRef): host keys are always checked");
      await writeFile(hosts, ensureNewline(knownHosts), { mode: 0o600 });
      gitEnv.GIT_SSH_COMMAND = `ssh -i ${key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${hosts}`;
    }
    const args = ["git", "clone", "--depth", "1", ...(source.ref === undefined ? [] : ["--branch", source.ref]), "--", source.git, target];
    ctx.step({ id: "fetch", name: "Fetch module", status: "running" });
    const exit = await runCommand({ argv: args, cwd: workDir, env: gitEnv, signal: ctx.signal, onStdout: (l) => ctx.log.info(l), onStderr: (l) => ctx.log.info(l) });
    if (exit.code !== 0) {
      ctx.step({ id: "fetch", name: "Fetch module", status: "failed" });
      throw new EdgeError(exit.cancelled ? "job_cancelled" : "integration_failed", `Cannot fetch module: git clone exited with code ${exit.code}`);
    }
    ctx.step({ id: "fetch", name: "Fetch module", status: "succeeded" });
  }
  return source.path === undefined ? target : insideDir(target, source.path, "module.path");
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}
