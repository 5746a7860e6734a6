// One pattern for every built-in plugin: its own folder `src/plugins/builtin/<name>/` with the
// plugin in `plugin.ts`, loaded from there; nothing else in builtin/ is a plugin.

import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { BUILTIN_PLUGINS, loadBuiltin } from "../../../src/plugins/builtin/index.ts";

const dir = new URL("../../../src/plugins/builtin/", import.meta.url).pathname;

test("every built-in plugin lives in src/plugins/builtin/<name>/plugin.ts and is loaded from there", async () => {
  const index = readFileSync(`${dir}index.ts`, "utf8");
  for (const name of BUILTIN_PLUGINS) {
    expect(statSync(`${dir}${name}`).isDirectory()).toBe(true);
    expect(existsSync(`${dir}${name}/plugin.ts`)).toBe(true);
    expect(index).toContain(`import("./${name}/plugin.ts")`);
    expect((await loadBuiltin(name))?.name).toBe(name);
  }
  // The loose files are shared parts, not plugins: none defines one.
  const loose = readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "index.ts");
  for (const file of loose) expect(`${file}: ${/definePlugin\(\{/.test(readFileSync(`${dir}${file}`, "utf8"))}`).toBe(`${file}: false`);
});
