// On Bun the first touch of `process.stdout` or `process.stderr` builds a Node stream: ~9 MiB
// and 10–30 ms in a compiled executable, as much as the rest of `--version` (issue 15,
// docs/performance.md). The start-up paths print through `console` instead. Each case runs in a
// fresh Bun process whose `process.stdout`/`process.stderr` are traps that count every touch.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";

const root = new URL("../..", import.meta.url).pathname;

/** Runs `body` (an async function body, `src` bound to the source folder) and returns what it reported. */
function probe(body: string): { touched: string[]; result: unknown } {
  const script = `
    const touched = [];
    for (const name of ["stdout", "stderr"]) {
      // Defined before anything reads them, so the real streams are never built.
      Object.defineProperty(process, name, { configurable: true, get() { touched.push(name); return { write() { return true; }, isTTY: false, fd: name === "stdout" ? 1 : 2 }; } });
    }
    const src = ${JSON.stringify(`${root}src/`)};
    const result = await (async () => { ${body} })();
    console.log("PROBE " + JSON.stringify({ touched, result }));
  `;
  const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  const line = run.stdout.split("\n").find((l) => l.startsWith("PROBE "));
  if (line === undefined) throw new Error(`The probe printed no result (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  return JSON.parse(line.slice("PROBE ".length)) as { touched: string[]; result: unknown };
}

describe("start-up paths never build the process.stdout/stderr streams", () => {
  test("`--version` prints its line without touching process.stdout or process.stderr", () => {
    const { touched, result } = probe(`const { main } = await import(src + "cli/main.ts"); return await main(["--version"]);`);
    expect({ touched, result }).toEqual({ touched: [], result: 0 });
  });

  test("`--help` prints the command table without touching them either", () => {
    const { touched, result } = probe(`const { main } = await import(src + "cli/main.ts"); return await main(["--help"]);`);
    expect({ touched, result }).toEqual({ touched: [], result: 0 });
  });

  test("a logger touches process.stderr at its first line, not when it is made (a runner at level warn starts without the stream)", () => {
    const { touched, result } = probe(`
      const { Logger } = await import(src + "log/logger.ts");
      const logger = new Logger({ level: "warn", format: "auto" });
      logger.info("below the level: not written");
      const before = [...touched];
      logger.warn("written");
      return before;
    `);
    expect({ touched: [...new Set(touched)], result }).toEqual({ touched: ["stderr"], result: [] });
  });
});
