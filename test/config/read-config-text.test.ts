// Config-like files (the config file, a CA bundle, meshstackPlugins) are read with a 1 MiB cap:
// an 8 GiB file stops the start with config_invalid naming the field, not out of memory.

import { afterAll, expect, test } from "bun:test";
import { readConfigText } from "../../src/config/read-config-text.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { parsePluginChoices } from "../../src/controller/meshstack/implementations.ts";
import { readCaBundle } from "../../src/config/ca-bundle.ts";
import { tempDir } from "../helpers/harness.ts";
import { GIB8, hugeFile, thrown } from "../helpers/huge-files.ts";

const tmp = tempDir("read-config-text-");
afterAll(tmp.remove);
const tooLarge = (file: string) => `The file "${file}" is ${GIB8} bytes, over the cap of 1048576 bytes for it; not read`;



test("readConfigText() read by resolveConfig(): an 8 GiB config file is config_invalid on configFile, naming its size and the cap", () => {
  const file = hugeFile(tmp.dir, "config.json");
  const error = thrown(() => resolveConfig({ scopes: ["runner"], argv: ["--config-file", file], env: {}, readFile: readConfigText }));
  expect({ code: error.code, field: error.field, message: error.message }).toEqual({ code: "config_invalid", field: "configFile", message: `Cannot read config file "${file}": ${tooLarge(file)}` });
});

test("readCaBundle() refuses an 8 GiB caFile: config_invalid on caFile", () => {
  const file = hugeFile(tmp.dir, "ca.pem");
  const error = thrown(() => readCaBundle(file, "caFile"));
  expect({ code: error.code, field: error.field, message: error.message }).toEqual({ code: "config_invalid", field: "caFile", message: `Cannot read "caFile" "${file}": ${tooLarge(file)}` });
});

test("parsePluginChoices() with readConfigText() refuses an 8 GiB meshstackPlugins file", () => {
  const file = hugeFile(tmp.dir, "plugins.json");
  expect(() => parsePluginChoices(file, readConfigText)).toThrow(tooLarge(file));
});

test("edge-runner run with an 8 GiB config file exits 78 naming configFile, the file, its size and the cap", async () => {
  const file = hugeFile(tmp.dir, "run-config.json");
  const root = new URL("../..", import.meta.url).pathname;
  const child = Bun.spawn([process.execPath, `${root}src/main.ts`, "run", "--config-file", file], { cwd: root, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect(code).toBe(78);
  expect(stdout + stderr).toContain(`Cannot read config file "${file}": ${tooLarge(file)}`);
});
