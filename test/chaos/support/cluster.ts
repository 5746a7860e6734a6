// A controller and runners as processes of the compiled binary, for the chaos suite: start,
// SIGKILL, SIGSTOP/SIGCONT and restart them (the controller keeps its port and data directory),
// register runners and submit jobs through the admin API.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CONTROLLER_URL, FLAVOURS, STATUS_URL, freePort, start, waitForHttp, waitForOutput, type Proc } from "../../helpers/processes.ts";

export const ADMIN_TOKEN = "chaos-admin-token-0123456789";
const binary = FLAVOURS[0]!;

export interface JobJson {
  id: string;
  status: string;
  attempt: number;
  submittedAt: number;
  finishedAt?: number;
  error?: { code: string; message: string };
  input?: unknown;
}

export interface ClusterOptions {
  /** Extra controller flags (lease, heartbeat, grace). */
  controllerArgs?: string[];
  /** Extra runner flags (transport, reconnect bounds). */
  runnerArgs?: string[];
  /** Where the data lives (default a fresh temp directory). */
  dir?: string;
}

export class Cluster {
  readonly dir: string;
  readonly port: number;
  controller: Proc | undefined;
  readonly runners = new Map<string, Proc>();
  /** Everything each process printed, kept across restarts (for log-size and census checks). */
  readonly outputs: string[] = [];
  readonly #options: ClusterOptions;
  readonly #keys = new Map<string, string>();

  private constructor(dir: string, port: number, options: ClusterOptions) {
    this.dir = dir;
    this.port = port;
    this.#options = options;
  }

  static async create(options: ClusterOptions = {}): Promise<Cluster> {
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "edge-chaos-"));
    return new Cluster(dir, await freePort(), options);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async startController(extra: string[] = []): Promise<Proc> {
    const proc = start(binary, [
      "controller", "--data-dir", path.join(this.dir, "controller-data"), "--listen-port", String(this.port),
      "--admin-token", ADMIN_TOKEN, ...(this.#options.controllerArgs ?? []), ...extra,
    ]);
    this.controller = proc;
    await waitForOutput(proc, CONTROLLER_URL, 30_000);
    await waitForHttp(`${this.url}/api/v1/health`, 30_000);
    return proc;
  }

  /** SIGKILL (or another signal) and wait for the exit; the output is kept. */
  async killController(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const proc = this.controller;
    if (proc === undefined) return;
    proc.kill(signal);
    await proc.exited;
    this.outputs.push(proc.output());
    this.controller = undefined;
  }

  async admin<T>(method: string, pathname: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}/api/v1${pathname}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
  }

  async register(id: string): Promise<string> {
    const { status, body } = await this.admin<{ apiKey: string }>("POST", "/runners", { id });
    if (status !== 201) throw new Error(`Cannot register runner "${id}": ${status} ${JSON.stringify(body)}`);
    const file = path.join(this.dir, `${id}.key`);
    fs.writeFileSync(file, body.apiKey, { mode: 0o600 });
    this.#keys.set(id, file);
    return file;
  }

  async startRunner(id: string, extra: string[] = [], waitReady = true): Promise<Proc> {
    const keyFile = this.#keys.get(id) ?? (await this.register(id));
    const proc = start(binary, [
      "run", "--runner-id", id, "--api-key-file", keyFile, "--controller-url", this.url, "--status-port", "0",
      "--start-jitter", "0", "--data-dir", path.join(this.dir, `runner-${id}`), ...(this.#options.runnerArgs ?? []), ...extra,
    ]);
    this.runners.set(id, proc);
    const statusUrl = await waitForOutput(proc, STATUS_URL, 30_000);
    if (waitReady) await waitForHttp(`${statusUrl}/readyz`, 30_000);
    return proc;
  }

  async killRunner(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const proc = this.runners.get(id);
    if (proc === undefined) return;
    proc.kill(signal);
    await proc.exited;
    this.outputs.push(proc.output());
    this.runners.delete(id);
  }

  /** Submits; resolves with the job id once the controller acknowledged it (201), else undefined. */
  async submit(input: unknown, maxAttempts = 20): Promise<string | undefined> {
    try {
      const { status, body } = await this.admin<{ id: string }>("POST", "/jobs", { plugin: "http", input, maxAttempts });
      return status === 201 ? body.id : undefined;
    } catch {
      return undefined;
    }
  }

  async job(id: string): Promise<JobJson | undefined> {
    const { status, body } = await this.admin<JobJson>("GET", `/jobs/${id}`);
    return status === 200 ? body : undefined;
  }

  async stop(): Promise<void> {
    for (const id of [...this.runners.keys()]) await this.killRunner(id);
    await this.killController();
    // For a failed run: every process's output, kept where CHAOS_KEEP_LOGS points.
    const keep = process.env.CHAOS_KEEP_LOGS;
    if (keep !== undefined) fs.writeFileSync(path.join(keep, `chaos-${Date.now()}.log`), this.outputs.join("\n----\n"));
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
