// The floor of the start-up rows: compiled Bun hello-worlds, built with the same flags as the
// executable (scripts/build.ts) so the ratio measures edge-runner's own start-up, not Bun's.
// `hello` prints one line and exits; `server` answers 200 on 127.0.0.1:<argv[2]>/readyz.
// `server-net` is the same server that, like a runner, is ready only once it has an edge session
// (one POST) and its WebSocket open at the controller: the network step the runner's /readyz
// waits for, which `server` does not take (argv: port, controller URL, API key file, runner id).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export interface HelloWorlds {
  hello: string;
  server: string;
  serverNet: string;
}

const sources = {
  hello: `console.log("hello world");\n`,
  server: `Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), fetch: () => new Response("ok") });\n`,
  serverNet: `const [port, url, keyFile, runnerId] = process.argv.slice(2);
let ready = false;
Bun.serve({ hostname: "127.0.0.1", port: Number(port), fetch: () => new Response(ready ? "ok" : "not yet", { status: ready ? 200 : 503 }) });
const key = (await Bun.file(keyFile).text()).trim();
const response = await fetch(url + "/edge/v1/sessions", { method: "POST", headers: { authorization: "Bearer " + key, "content-type": "application/json" }, body: JSON.stringify({ v: 1, runnerId, group: "default", version: "hello", transport: "websocket" }) });
if (response.status !== 201 && response.status !== 200) throw new Error("session: HTTP " + response.status);
const session = await response.json();
const socket = new WebSocket(url.replace(/^http/, "ws") + "/edge/v1/sessions/" + encodeURIComponent(session.sessionId) + "/ws?token=" + encodeURIComponent(session.token));
socket.onopen = () => { ready = true; };
`,
};

export function buildHelloWorlds(dir: string): HelloWorlds {
  mkdirSync(dir, { recursive: true });
  const out = {} as HelloWorlds;
  for (const [name, source] of Object.entries(sources) as Array<[keyof HelloWorlds, string]>) {
    const entry = path.join(dir, `${name}.ts`);
    writeFileSync(entry, source);
    const outfile = path.join(dir, name);
    const built = spawnSync(process.execPath, ["build", "--compile", "--minify", "--bytecode", "--format=esm", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", entry, `--outfile=${outfile}`], { stdio: ["ignore", "ignore", "inherit"] });
    if (built.status !== 0) throw new Error(`Cannot build the hello-world floor "${name}": bun build exited ${built.status}`);
    out[name] = outfile;
  }
  return out;
}

/**
 * Peak RSS (bytes) of one run of a short-lived process, from wait4()'s rusage as GNU time reports
 * it (Bun.spawnSync's resourceUsage.maxRSS was seen to carry an earlier child's peak).
 */
export function peakRss(binary: string, args: readonly string[]): number {
  if (!existsSync("/usr/bin/time")) throw new Error("Cannot measure peak RSS: /usr/bin/time is missing (apt-get install time)");
  const result = spawnSync("/usr/bin/time", ["-f", "%M", binary, ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const kib = Number(result.stderr.trim().split("\n").at(-1));
  if (result.status !== 0 || !Number.isFinite(kib)) throw new Error(`Cannot measure the peak RSS of "${binary} ${args.join(" ")}": exit ${result.status}, ${result.stderr.trim().slice(0, 200)}`);
  return kib * 1024;
}
