// The controller's secret store: named secrets a job may ask for by reference. Values live in
// one file, mode 0600, rewritten atomically; they are only ever given to the runner that holds
// the lease of a job that declared the reference (see edge-secrets.ts), never listed.

import * as fs from "node:fs";
import * as path from "node:path";
import { EdgeError } from "../errors.ts";
import { writeFileAtomic } from "./jsonl-file.ts";

/** A reference: what a job lists in `secrets` and a plugin passes to `ctx.secrets.get()`. */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,127}$/;
const MAX_VALUE_BYTES = 64 * 1024;

export class SecretStore {
  readonly #file: string;
  readonly #values = new Map<string, string>();

  constructor(dir: string) {
    this.#file = path.join(dir, "secrets.json");
    if (!fs.existsSync(this.#file)) return;
    const parsed = JSON.parse(fs.readFileSync(this.#file, "utf8")) as Record<string, unknown>;
    for (const [name, value] of Object.entries(parsed)) if (typeof value === "string") this.#values.set(name, value);
  }

  names(): string[] {
    return [...this.#values.keys()].sort();
  }

  get(name: string): string | undefined {
    return this.#values.get(name);
  }

  set(name: string, value: string): void {
    if (!SECRET_NAME.test(name)) throw new EdgeError("input_invalid", `Cannot store secret "${name.slice(0, 130)}": a name is 1 to 128 letters, digits and "_.-/", starting with a letter or digit`);
    if (value === "" || Buffer.byteLength(value) > MAX_VALUE_BYTES) throw new EdgeError("input_invalid", `Cannot store secret "${name}": its value must be 1 byte to 64 KiB`);
    this.#values.set(name, value);
    this.#save();
  }

  delete(name: string): boolean {
    const had = this.#values.delete(name);
    if (had) this.#save();
    return had;
  }

  #save(): void {
    writeFileAtomic(this.#file, JSON.stringify(Object.fromEntries(this.#values)));
  }
}
