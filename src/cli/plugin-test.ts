// `edge-runner plugin test`: a plugin project's tests with Bun's test runner. The compiled
// executable is Bun, and BUN_BE_BUN=1 makes it act as the `bun` CLI, so an author needs nothing
// else installed. The Node/Deno bundle has no test runner to offer.

import { spawn } from "node:child_process";
import { EdgeError } from "../errors.ts";
import { runtime } from "../platform/runtime.ts";

export async function testPlugin(args: string[]): Promise<number> {
  if (runtime !== "bun") {
    throw new EdgeError("config_invalid", `Cannot run plugin tests on ${runtime}: "edge-runner plugin test" uses the Bun test runner inside the compiled executable; use it, or run "bun test"`);
  }
  return await new Promise<number>((done, fail) => {
    const child = spawn(process.execPath, ["test", ...args], { stdio: "inherit", env: { ...process.env, BUN_BE_BUN: "1" } });
    child.on("error", (error) => fail(new EdgeError("internal", `Cannot start the test runner "${process.execPath}": ${error.message}`)));
    child.on("exit", (code, signal) => done(code ?? (signal === null ? 1 : 128)));
  });
}
