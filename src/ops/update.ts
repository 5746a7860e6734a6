// `edge-runner update` as a function: verified download, stage beside the executable, prove the
// new file runs, refuse a downgrade, and swap only while the local runner runs no job. Never forced:
// a busy runner is an outcome ("try later"), not something to wait out or override.

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { EdgeError, errorMessage } from "../errors.ts";
import { commitSwap, discardStaged, stageExecutable } from "./atomic-swap.ts";
import { sha256Hex } from "./checksums.ts";
import type { TrustedKey } from "./release-signature.ts";
import { runnerActivity as askRunner, type RunnerActivity } from "./runner-activity.ts";
import { downloadVerified } from "./verified-download.ts";
import { compareVersions, parseVersionLine } from "./version-compare.ts";

export interface UpdateOptions {
  /** Release base URL or local directory. */
  source: string;
  asset: string;
  keys: readonly TrustedKey[];
  /** The executable to replace. */
  target: string;
  currentVersion: string;
  /** Base URL of the local status endpoint, asked for running jobs before the swap. */
  statusUrl: string;
  allowDowngrade?: boolean;
  /** Verify and report, change nothing. */
  dryRun?: boolean;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Injected in tests; default asks GET {statusUrl}/status. */
  activity?: () => Promise<RunnerActivity>;
  /** Injected in tests; default runs `<path> --version`. */
  versionOf?: (path: string) => Promise<string>;
}

export type UpdateOutcome =
  | { kind: "up_to_date"; version: string }
  | { kind: "busy"; version: string; jobIds: string[] }
  | { kind: "would_update"; from: string; to: string }
  | { kind: "updated"; from: string; to: string; previous?: string };

export async function runUpdate(options: UpdateOptions): Promise<UpdateOutcome> {
  const fetchOptions = { ...(options.fetch === undefined ? {} : { fetch: options.fetch }), ...(options.signal === undefined ? {} : { signal: options.signal }) };
  const asset = await downloadVerified({ source: options.source, asset: options.asset, keys: options.keys, ...fetchOptions });
  const current = await readFile(options.target).catch((error: unknown) => {
    throw new EdgeError("input_invalid", `Cannot update "${options.target}": ${errorMessage(error)}`);
  });
  if (sha256Hex(current) === asset.sha256) return { kind: "up_to_date", version: options.currentVersion };

  const staged = await stageExecutable(options.target, asset.bytes).catch((error: unknown) => {
    throw new EdgeError("input_invalid", `Cannot update "${options.target}": cannot write beside it: ${errorMessage(error)}`);
  });
  try {
    const to = await (options.versionOf ?? versionOf)(staged);
    if (compareVersions(to, options.currentVersion) < 0 && options.allowDowngrade !== true) {
      throw new EdgeError("conflict", `Refusing to update "${options.target}" from ${options.currentVersion} to older ${to} (use --allow-downgrade)`);
    }
    if (options.dryRun === true) return { kind: "would_update", from: options.currentVersion, to };
    const activity = await (options.activity ?? (() => askRunner({ statusUrl: options.statusUrl, ...fetchOptions })))();
    if (activity.kind === "busy") return { kind: "busy", version: to, jobIds: activity.jobIds };
    const { previous } = await commitSwap({ staged, target: options.target, keepPrevious: true });
    return { kind: "updated", from: options.currentVersion, to, ...(previous === undefined ? {} : { previous }) };
  } finally {
    // After a commit the staged name no longer exists; otherwise nothing half-done stays behind.
    await discardStaged(staged);
  }
}

const run = promisify(execFile);

/** Runs `<path> --version`; the version, or `release_unverified` when it does not run. */
export async function versionOf(path: string, label = "the downloaded executable"): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run(path, ["--version"], { timeout: 30_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } }));
  } catch (error) {
    throw new EdgeError("release_unverified", `Cannot update: ${label} does not run here: ${errorMessage(error)}`);
  }
  const version = parseVersionLine(stdout);
  if (version === undefined) throw new EdgeError("release_unverified", `Cannot update: ${label} printed no version (${JSON.stringify(stdout.slice(0, 80))})`);
  return version;
}
