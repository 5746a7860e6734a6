// Ending a job's processes: each child a plugin starts leads its own process group (session), so
// a grandchild that outlives its parent is still found by its group id. A group is asked to stop
// (SIGTERM), given a grace, then killed (SIGKILL), and the caller waits until it is gone.

import { readdirSync, readFileSync } from "node:fs";

export interface StopOptions {
  /** How long processes may take to exit after SIGTERM before SIGKILL. */
  graceMs: number;
  /** How often to look whether they are gone (default 25 ms). */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** What to stop: whole process groups (by id), and single processes (by pid). */
export interface StopTargets {
  groups?: Iterable<number>;
  pids?: Iterable<number>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Stops every process in the given groups, and the given processes: SIGTERM, up to `graceMs`
 * for them to exit, then SIGKILL. Resolves once none is left alive (zombies waiting for a reaper
 * do not count: they hold no resources and run no code). Never rejects.
 */
export async function stopProcesses(targets: StopTargets, options: StopOptions): Promise<void> {
  if (process.platform === "win32") return;
  const valid = (ids: Iterable<number> | undefined): number[] => [...new Set(ids ?? [])].filter((g) => Number.isInteger(g) && g > 1 && g !== process.pid);
  const groups = valid(targets.groups);
  const pids = valid(targets.pids);
  if (groups.length === 0 && pids.length === 0) return;
  const sleep = options.sleep ?? defaultSleep;
  const pollMs = options.pollMs ?? 25;
  const alive = (): { groups: number[]; pids: number[] } => ({ groups: groups.filter(groupAlive), pids: pids.filter(processAlive) });
  const none = (left: { groups: number[]; pids: number[] }): boolean => left.groups.length === 0 && left.pids.length === 0;
  signal(groups, pids, "SIGTERM");
  let left = alive();
  for (let waited = 0; !none(left) && waited < options.graceMs; waited += pollMs) {
    await sleep(pollMs);
    left = alive();
  }
  if (none(left)) return;
  signal(left.groups, left.pids, "SIGKILL");
  // SIGKILL cannot be ignored; a short wait lets the kernel finish so callers see them gone.
  for (let waited = 0; !none(alive()) && waited < 2000; waited += pollMs) await sleep(pollMs);
}

/** Stops the process groups led by `pgids` (children a plugin started); see stopProcesses. */
/**
 * Stops what a run left running: the process groups of the children it started, and in process
 * isolation every other member of the host process's own group (taken now, before the host
 * serves another run). SIGTERM, the grace, SIGKILL.
 */
export function stopRunProcesses(childGroups: ReadonlySet<number>, hostGroup: number | undefined, graceMs: number): Promise<void> {
  const pids = hostGroup === undefined ? [] : groupMembers(hostGroup).filter((pid) => pid !== hostGroup);
  if (childGroups.size === 0 && pids.length === 0) return Promise.resolve();
  return stopProcesses({ groups: childGroups, pids }, { graceMs });
}

export function stopProcessGroups(pgids: Iterable<number>, options: StopOptions): Promise<void> {
  return stopProcesses({ groups: pgids }, options);
}

function signal(groups: number[], pids: number[], sig: NodeJS.Signals): void {
  for (const pgid of groups) signal1(-pgid, sig);
  for (const pid of pids) signal1(pid, sig);
}

function signal1(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone. EPERM: not ours any more (the id was reused); leave it alone.
  }
}

function groupAlive(pgid: number): boolean {
  if (process.platform === "linux") return groupMembers(pgid).length > 0;
  // Without /proc, signal 0 says whether any member exists (zombies included).
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  if (process.platform === "linux") {
    const stat = readStat(pid);
    return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `pid` may be a child a plugin started: a plugin can post any pid in a `spawned` message,
 * and the runner signals that process group. Refused: pids ≤ 1, the runner's own, and (where /proc
 * tells) a live process whose parent is not `parent` (the runner for a thread, the host process in
 * process isolation) or that does not lead its own group (every tracked child does). A pid that is
 * already gone is accepted: its group may still hold the child's children.
 */
export function mayBeOwnChild(pid: unknown, parent: number): pid is number {
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return false;
  if (process.platform !== "linux") return true;
  const stat = readStat(pid);
  return stat === undefined || stat.state === "Z" || (stat.ppid === parent && stat.pgrp === pid);
}

/** Live (not zombie) processes in process group `pgid`, from /proc (Linux); empty elsewhere. */
export function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const { pid, pgrp, state } of processes()) if (pgrp === pgid && state !== "Z" && state !== "X") found.push(pid);
  return found;
}

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
}

/** Every process /proc shows: pid, parent, process group and state. */
export function processes(): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== undefined) out.push(stat);
  }
  return out;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself contain spaces or ")": split after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: rest[0] ?? "", ppid: Number(rest[1]), pgrp: Number(rest[2]) };
}
