// A Redis server for the peer section: Debian's redis-server (installed with apt-get when
// missing and running as root), its own temporary directory, every write fsync'd before it is
// acknowledged (`--appendonly yes --appendfsync always`), stopped by its own pid afterwards.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { freePort, sleep } from "./processes.ts";

export interface RedisProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function ensureRedisServer(): string {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (found !== "") return found;
  if (process.getuid?.() !== 0) throw new Error("Cannot run the peer section: redis-server is missing (apt-get install redis-server)");
  process.stderr.write("bench: installing redis-server (Debian) for the BullMQ peer section\n");
  const installed = spawnSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server"], { stdio: ["ignore", "ignore", "inherit"] });
  if (installed.status !== 0) throw new Error(`Cannot install redis-server: apt-get exited ${installed.status}`);
  return "/usr/bin/redis-server";
}

export async function startRedis(parentDir: string): Promise<RedisProcess> {
  const binary = ensureRedisServer();
  const dir = mkdtempSync(path.join(parentDir, "edge-runner-bench-redis-"));
  const port = await freePort();
  const child: ChildProcess = spawn(binary, [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no", "--save", "",
    "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes", "--loglevel", "warning",
  ], { stdio: ["ignore", "ignore", "inherit"] });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const { Socket } = await import("node:net");
  const deadline = performance.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once("error", () => resolve(false));
      socket.connect(port, "127.0.0.1", () => {
        socket.write("PING\r\n");
        socket.once("data", (data) => {
          socket.destroy();
          resolve(data.toString().startsWith("+PONG"));
        });
      });
    });
    if (up) break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`Cannot start redis-server on port ${port} within 10 s`);
    }
    await sleep(20);
  }
  return { port, pid: child.pid as number, stop };
}
