// `edge-runner plugin init NAME`: a ready plugin project (source, a first test, tsconfig, the SDK
// and its types from this executable, a .gitignore that keeps private keys out), and
// `--sdk-only` to refresh the SDK of an existing project after an upgrade.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { UsageError } from "../config/usage-error.ts";
import { EdgeError } from "../errors.ts";
import { parseCommandArgs, stringFlag } from "./cli-args.ts";
import { VERSION } from "../version.ts";
import { EXIT } from "./command.ts";
import { SDK_DTS, SDK_JS } from "./plugin-sdk-files.ts";
import { projectFiles, SDK_DIR } from "./plugin-template.ts";

export const INIT_USAGE = `  init <name> [--dir DIR] [--version V]
      Write a ready plugin project into DIR (default ./<name>): src/index.ts, a first test, tsconfig.json,
      the SDK and its types in sdk/, a .gitignore that keeps private keys out, and a README with the path
      to a signed job on a runner. --sdk-only [--dir DIR] rewrites only sdk/ (after an upgrade).
  test [files…]
      Run the project's tests (test/*.test.ts) with the Bun test runner built into this executable.
`;

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export async function initPlugin(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, { dir: { type: "string" }, version: { type: "string" }, "sdk-only": { type: "boolean" } });
  const [name, extra] = parsed.positionals;
  if (parsed.values["sdk-only"] === true) {
    const dir = resolve(stringFlag(parsed.values, "dir") ?? name ?? ".");
    writeSdk(dir);
    process.stderr.write(`Rewrote the SDK in "${join(dir, SDK_DIR)}" for edge-runner ${VERSION}\n`);
    return EXIT.ok;
  }
  if (name === undefined) throw new UsageError("Cannot create plugin project: name missing (edge-runner plugin init NAME)");
  if (extra !== undefined) throw new UsageError(`Cannot create plugin project: unexpected argument "${extra}"`);
  if (!NAME.test(name)) throw new UsageError(`Cannot create plugin project "${name}": a plugin name is lowercase letters, digits, ".", "_" or "-" (at most 64)`);
  const version = stringFlag(parsed.values, "version") ?? "0.1.0";
  const dir = resolve(stringFlag(parsed.values, "dir") ?? name);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new EdgeError("conflict", `Cannot create plugin project "${name}": "${dir}" exists and is not empty`);
  }
  for (const [file, text] of Object.entries(projectFiles(name, version))) write(join(dir, file), text);
  writeSdk(dir);
  const shown = relative(process.cwd(), dir) || ".";
  process.stderr.write(`Created plugin project "${name}" in ${shown}/. Next:\n  cd ${shown}\n  edge-runner plugin test\n  edge-runner plugin build src/index.ts\nThe README there goes on to a signed job on a runner.\n`);
  process.stdout.write(`${dir}\n`);
  return EXIT.ok;
}

function writeSdk(dir: string): void {
  const stamp = (text: string) => text.replace("(edge-runner VERSION)", `(edge-runner ${VERSION})`);
  write(join(dir, SDK_DIR, "edge-runner-plugin.js"), stamp(SDK_JS));
  write(join(dir, SDK_DIR, "edge-runner-plugin.d.ts"), stamp(SDK_DTS));
}

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}
