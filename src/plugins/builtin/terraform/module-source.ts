// Puts the job's Terraform module into its own working directory: a git clone (HTTPS, or SSH
// with a private key and a known-hosts line from secrets, host keys always checked) or a copy of
// a local directory. Each job gets its own copy, so concurrent runs never share one.

import { cp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { publicUrl } from "../../../config/url.ts";
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
    maskUrlCredentials(source.git, ctx);
    await cloneModule(source as ModuleSource & { git: string }, target, workDir, env, ctx);
  }
  return source.path === undefined ? target : insideDir(target, source.path, "module.path");
}

/**
 * `git clone --depth 1` into `target`. Over SSH the key and known-hosts line go to 0600 files
 * that exist only for the clone: Terraform runs with HOME in the same work dir, and a module's
 * provisioners must not find the key there.
 */
async function cloneModule(source: ModuleSource & { git: string }, target: string, workDir: string, env: Record<string, string>, ctx: ActionContext): Promise<void> {
  // scp-like git@host:path is no URL and has no place for a password: shown as given.
  const shown = /^[a-z][a-z0-9+.-]*:\/\//i.test(source.git) ? publicUrl(source.git) : source.git;
  const gitEnv: Record<string, string> = { ...env, GIT_TERMINAL_PROMPT: "0" };
  const sshKey = source.sshKey ?? (source.sshKeyRef === undefined ? undefined : await ctx.secrets.get(source.sshKeyRef));
  const key = join(workDir, ".ssh-key");
  const hosts = join(workDir, ".known-hosts");
  if (sshKey !== undefined) {
    const knownHosts = source.knownHosts ?? (source.knownHostsRef === undefined ? undefined : await ctx.secrets.get(source.knownHostsRef));
    if (knownHosts === undefined || knownHosts.trim() === "") {
      throw new EdgeError("input_invalid", `Cannot fetch the terraform module from "${shown}" over SSH: no known-hosts line (set module.knownHostsRef); host keys are always checked`);
    }
    await writeFile(key, ensureNewline(sshKey), { mode: 0o600 });
    await writeFile(hosts, ensureNewline(knownHosts), { mode: 0o600 });
    // git runs this through a shell: the paths are quoted, the key itself is never on it.
    gitEnv.GIT_SSH_COMMAND = `ssh -i ${shellQuote(key)} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${shellQuote(hosts)}`;
  }
  const args = ["git", "clone", "--depth", "1", ...(source.ref === undefined ? [] : ["--branch", source.ref]), "--", source.git, target];
  ctx.step({ id: "fetch", name: "Fetch module", status: "running" });
  let hostKeyFailed = false;
  let lastError: string | undefined;
  const onStderr = (line: string): void => {
    ctx.log.info(line);
    if (/Host key verification failed/i.test(line)) hostKeyFailed = true;
    if (/^(fatal|error):/.test(line) && lastError === undefined) lastError = line.slice(0, 500);
  };
  const exit = await runCommand({ argv: args, cwd: workDir, env: gitEnv, signal: ctx.signal, onStdout: (l) => ctx.log.info(l), onStderr }).finally(() =>
    Promise.all([rm(key, { force: true }), rm(hosts, { force: true })]),
  );
  if (exit.code === 0) {
    ctx.step({ id: "fetch", name: "Fetch module", status: "succeeded" });
    return;
  }
  ctx.step({ id: "fetch", name: "Fetch module", status: "failed" });
  if (exit.cancelled) throw new EdgeError("job_cancelled", `Fetching the terraform module from "${shown}" stopped: the job was cancelled`);
  if (hostKeyFailed) {
    throw new EdgeError("integration_failed", `Cannot fetch the terraform module from "${shown}": the SSH host key does not match the known-hosts line (module.knownHostsRef)`);
  }
  // git's line last, after nothing: cut to 500 characters, it may end with a secret's first part,
  // which the runner masks only at the end of the message (job-text.ts redactThenClip()).
  throw new EdgeError("integration_failed", `Cannot fetch the terraform module from "${shown}": git clone exited with code ${exit.code}${lastError === undefined ? "" : `: ${lastError}`}`);
}

/**
 * A repository URL with a token in it (https://oauth2:TOKEN@host/…, as a meshStack implementation
 * may hold it): the token is masked in everything the job writes before git can print it, and
 * messages show the URL without it. An edge job's schema refuses such a URL outright.
 */
function maskUrlCredentials(url: string, ctx: ActionContext): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  // user:TOKEN, or a token as the user name (https://TOKEN@github.com/…); ssh's "git" is no secret.
  const secret = parsed.password !== "" ? parsed.password : parsed.username === "git" ? "" : parsed.username;
  if (secret === "") return;
  ctx.secrets.mask(secret);
  const decoded = safeDecode(secret);
  if (decoded !== secret) ctx.secrets.mask(decoded);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** One POSIX shell word. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}
