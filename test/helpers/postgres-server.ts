// A real PostgreSQL server for tests: initdb in a temporary directory, started on a loopback
// port as the unprivileged `postgres` user (the server refuses to run as root; tests here run as
// root), password authentication (scram-sha-256) with the password in a file, stopped and removed
// after. Binaries from Debian's postgresql package (scripts/test.sh installs it when missing).

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir, userInfo } from "node:os";
import * as path from "node:path";
import { freePort } from "./processes.ts";

export interface PostgresServer {
  /** postgres://edge@127.0.0.1:PORT/edge, without the password. */
  url: string;
  password: string;
  /** The password in a mode-0600 file, as `storePasswordFile` takes it. */
  passwordFile: string;
  port: number;
  /** Its temporary directory (data, socket, log). */
  dir: string;
  /** A fresh database on this server; returns its URL (without the password). */
  createDatabase(name: string): string;
  /** Stops the server (fast shutdown); `start()` starts it again on the same port and data. */
  stop(): void;
  start(): void;
  /** Like stop() and start(), without blocking the event loop (a restart under load). */
  stopAsync(): Promise<void>;
  startAsync(): Promise<void>;
  /** Whether the server is up (its postmaster.pid is there): a test that stopped it may have failed before starting it again. */
  running(): boolean;
  /** Stops it and removes its directory. */
  destroy(): void;
}

/** The directory holding initdb, pg_ctl and postgres: Debian's versioned one, or PATH. */
export function postgresBinDir(): string {
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) if (existsSync(path.join(debian, version, "bin", "initdb"))) return path.join(debian, version, "bin");
  }
  const which = Bun.which("initdb");
  if (which !== null) return path.dirname(which);
  throw new Error("PostgreSQL server binaries are missing: apt-get install postgresql (npm test does it when run as root)");
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const root = userInfo().uid === 0;
  const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-pg-"));
  const data = path.join(dir, "data");
  const password = randomBytes(18).toString("base64url");
  const pwfile = path.join(dir, "initdb-password");
  writeFileSync(pwfile, password);
  const passwordFile = path.join(dir, "password");
  writeFileSync(passwordFile, password, { mode: 0o600 });
  if (root) {
    const owner = idOf("postgres");
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
    chmodSync(dir, 0o700);
  }
  const asServerUser = (args: string[]) => {
    const command = root ? ["runuser", "-u", "postgres", "--", ...args] : args;
    const result = spawnSync(command[0] as string, command.slice(1), { encoding: "utf8", cwd: dir });
    if (result.status !== 0) throw new Error(`Cannot run ${path.basename(args[0] as string)} for the test PostgreSQL: exit ${result.status}\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };
  asServerUser([path.join(bin, "initdb"), "-D", data, "-U", "edge", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8", "--no-sync"]);
  rmSync(pwfile);
  const port = await freePort();
  // fsync stays on: the store's durability claims are tested against a server that keeps its word.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const stop = () => {
    if (existsSync(path.join(data, "postmaster.pid"))) asServerUser([path.join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
  };
  const start = () => {
    asServerUser([path.join(bin, "pg_ctl"), "-D", data, "-o", options, "-l", path.join(dir, "server.log"), "-w", "-t", "60", "start"]);
  };
  const asServerUserAsync = (args: string[]) => new Promise<void>((resolve, reject) => {
    const command = root ? ["runuser", "-u", "postgres", "--", ...args] : args;
    const child = spawn(command[0] as string, command.slice(1), { cwd: dir, stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(args[0] as string)} exited ${code}`))));
  });
  start();
  const url = `postgres://edge@127.0.0.1:${port}/edge`;
  const psql = (database: string, statement: string) => {
    const env = { ...process.env, PGPASSWORD: password };
    const result = spawnSync(path.join(bin, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "edge", "-d", database, "-v", "ON_ERROR_STOP=1", "-c", statement], { encoding: "utf8", env });
    if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
  };
  psql("postgres", "CREATE DATABASE edge");
  return {
    url,
    password,
    passwordFile,
    port,
    dir,
    createDatabase(name: string) {
      psql("postgres", `CREATE DATABASE "${name.replaceAll('"', "")}"`);
      return `postgres://edge@127.0.0.1:${port}/${name}`;
    },
    start,
    stop,
    stopAsync: () => asServerUserAsync([path.join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]),
    running: () => existsSync(path.join(data, "postmaster.pid")),
    startAsync: () => asServerUserAsync([path.join(bin, "pg_ctl"), "-D", data, "-o", options, "-l", path.join(dir, "server.log"), "-w", "-t", "60", "start"]),
    destroy() {
      try {
        stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function idOf(user: string): { uid: number; gid: number } {
  const uid = Number(spawnSync("id", ["-u", user], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", user], { encoding: "utf8" }).stdout.trim());
  if (!Number.isInteger(uid) || uid <= 0) throw new Error(`Cannot run the test PostgreSQL: no user "${user}" (apt-get install postgresql creates it)`);
  return { uid, gid };
}

/**
 * Stops `server` (fast shutdown) and removes its directory once process `pid` has exited: for a
 * server shared by every test file of one `bun test` process, which fires no exit event. Returns
 * the shell that launches the watchdog (it exits at once).
 */
export function stopWhenProcessExits(server: Pick<PostgresServer, "dir">, pid = process.pid): ChildProcess {
  const data = path.join(server.dir, "data");
  const script = `while kill -0 ${pid} 2>/dev/null; do sleep 0.5; done; ` +
    `if [ -f '${data}/postmaster.pid' ]; then kill -INT "$(head -1 '${data}/postmaster.pid')"; ` +
    `for i in $(seq 1 100); do [ -f '${data}/postmaster.pid' ] || break; sleep 0.1; done; fi; rm -rf '${server.dir}'`;
  // In the background of a shell that exits at once, so the watchdog is nobody's child: when a
  // test or hook times out, bun test kills every process the file spawned (a beforeAll's too),
  // which killed this watchdog and left the shared server running, with its directory, for good.
  const launcher = spawn("sh", ["-c", `(${script}) </dev/null >/dev/null 2>&1 &`], { detached: true, stdio: "ignore" });
  launcher.unref();
  return launcher;
}
