// Controller replicas as processes of the compiled binary on one real PostgreSQL database, with
// runner processes each given its own ordered list of replica URLs: start, SIGKILL and restart a
// replica (same port, own data directory), register runners and submit jobs through any replica.
// Every replica shares the admin token file and the secrets key, as on Kubernetes.

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startPostgres, stopWhenProcessExits, type PostgresServer } from "../../helpers/postgres-server.ts";
import { CONTROLLER_URL, FLAVOURS, STATUS_URL, freePort, start, waitForHttp, waitForOutput, type Proc } from "../../helpers/processes.ts";
import type { JobJson } from "../../chaos/support/cluster.ts";

const binary = FLAVOURS[0]!;

export interface ReplicaClusterOptions {
  /** Names of the replicas (each gets a port now, kept across restarts). */
  replicas: readonly string[];
  /** Extra controller flags (lease, heartbeat, grace). */
  controllerArgs?: string[];
  /** Extra runner flags (transport, reconnect bounds). */
  runnerArgs?: string[];
}

export class ReplicaCluster {
  readonly dir: string;
  readonly db: PostgresServer;
  readonly ports = new Map<string, number>();
  readonly controllers = new Map<string, Proc>();
  readonly runners = new Map<string, Proc>();
  /** Everything each process printed, kept across kills (for a failed run's diagnosis). */
  readonly outputs: string[] = [];
  readonly #options: ReplicaClusterOptions;
  readonly #tokenFile: string;
  readonly #token: string;
  readonly #keyFile: string;
  readonly #runnerKeys = new Map<string, string>();

  private constructor(dir: string, db: PostgresServer, options: ReplicaClusterOptions) {
    this.dir = dir;
    this.db = db;
    this.#options = options;
    this.#token = randomBytes(24).toString("base64url");
    this.#tokenFile = path.join(dir, "admin-token");
    fs.writeFileSync(this.#tokenFile, this.#token, { mode: 0o600 });
    this.#keyFile = path.join(dir, "secrets.key");
    fs.writeFileSync(this.#keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
  }

  static async create(options: ReplicaClusterOptions): Promise<ReplicaCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-replicas-"));
    const db = await startPostgres();
    // Stopped (and its directory removed) even when the test process dies before stop().
    stopWhenProcessExits(db);
    const cluster = new ReplicaCluster(dir, db, options);
    for (const name of options.replicas) cluster.ports.set(name, await freePort());
    return cluster;
  }

  url(replica: string): string {
    const port = this.ports.get(replica);
    if (port === undefined) throw new Error(`No replica "${replica}"`);
    return `http://127.0.0.1:${port}`;
  }

  /** The replicas running now. */
  get live(): string[] {
    return [...this.controllers.keys()];
  }

  async startReplica(name: string): Promise<Proc> {
    const proc = start(binary, [
      "controller", "--data-dir", path.join(this.dir, `replica-${name}`), "--listen-port", String(this.ports.get(name)),
      "--store-url", this.db.url, "--store-password-file", this.db.passwordFile,
      "--admin-token-file", this.#tokenFile, "--secrets-key-file", this.#keyFile, ...(this.#options.controllerArgs ?? []),
    ]);
    this.controllers.set(name, proc);
    await waitForOutput(proc, CONTROLLER_URL, 30_000);
    await waitForHttp(`${this.url(name)}/api/v1/health`, 30_000);
    return proc;
  }

  async killReplica(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const proc = this.controllers.get(name);
    if (proc === undefined) return;
    proc.kill(signal);
    await proc.exited;
    this.outputs.push(`replica ${name}:\n${proc.output()}`);
    this.controllers.delete(name);
  }

  async admin<T>(replica: string, method: string, pathname: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url(replica)}/api/v1${pathname}`, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
  }

  /** A runner whose `controllerUrl` lists `replicas` in that order. */
  async startRunner(id: string, replicas: readonly string[], extra: string[] = []): Promise<Proc> {
    let keyFile = this.#runnerKeys.get(id);
    if (keyFile === undefined) {
      const { status, body } = await this.admin<{ apiKey: string }>(this.live[0] as string, "POST", "/runners", { id });
      if (status !== 201) throw new Error(`Cannot register runner "${id}": ${status} ${JSON.stringify(body)}`);
      keyFile = path.join(this.dir, `${id}.key`);
      fs.writeFileSync(keyFile, body.apiKey, { mode: 0o600 });
      this.#runnerKeys.set(id, keyFile);
    }
    const proc = start(binary, [
      "run", "--runner-id", id, "--api-key-file", keyFile, "--controller-url", replicas.map((r) => this.url(r)).join(","),
      "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(this.dir, `runner-${id}`), ...(this.#options.runnerArgs ?? []), ...extra,
    ]);
    this.runners.set(id, proc);
    const statusUrl = await waitForOutput(proc, STATUS_URL, 30_000);
    await waitForHttp(`${statusUrl}/readyz`, 30_000);
    return proc;
  }

  /** The runner's /status document (which controller URL is current). */
  async runnerStatus(id: string): Promise<{ controllerUrl: string; controllers?: { index: number; count: number; failovers: number } }> {
    const proc = this.runners.get(id);
    if (proc === undefined) throw new Error(`No runner "${id}"`);
    const statusUrl = await waitForOutput(proc, STATUS_URL, 1000);
    return (await (await fetch(`${statusUrl}/status`)).json()) as never;
  }

  /** Submits through `replica`; the job id once it acknowledged (201), else undefined. */
  async submit(replica: string, input: unknown, maxAttempts = 20): Promise<string | undefined> {
    try {
      const { status, body } = await this.admin<{ id: string }>(replica, "POST", "/jobs", { plugin: "http", input, maxAttempts });
      return status === 201 ? body.id : undefined;
    } catch {
      return undefined;
    }
  }

  /** The job as any live replica sees it. */
  async job(id: string): Promise<JobJson | undefined> {
    for (const replica of this.live) {
      try {
        const { status, body } = await this.admin<JobJson>(replica, "GET", `/jobs/${id}`);
        if (status === 200) return body;
        if (status === 404) return undefined;
      } catch {
        // This one is going away: ask the next.
      }
    }
    return undefined;
  }

  async stop(): Promise<void> {
    for (const [id, proc] of [...this.runners]) {
      proc.kill("SIGKILL");
      await proc.exited;
      this.outputs.push(`runner ${id}:\n${proc.output()}`);
      this.runners.delete(id);
    }
    for (const name of this.live) await this.killReplica(name);
    const keep = process.env.CHAOS_KEEP_LOGS;
    if (keep !== undefined) fs.writeFileSync(path.join(keep, `replicas-${Date.now()}.log`), this.outputs.join("\n----\n"));
  }

  remove(): void {
    this.db.destroy();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
