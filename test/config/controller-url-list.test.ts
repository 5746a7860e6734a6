// `controllerUrl` as an ordered list of replicas: a JSON array in the config file, a
// comma-separated list in env and flags; every entry through the one URL rule, a bounded count,
// no duplicates, and an error that names the entry's index (exit 78 before any network call).

import { expect, test } from "bun:test";
import { ConfigError, primaryControllerUrl, resolveConfig, type ResolveOptions } from "../../src/config/resolve.ts";
import { main } from "../../src/cli/main.ts";
import { configFails } from "../helpers/config-errors.ts";

const base: ResolveOptions = { scopes: ["runner"], argv: [], env: {} };

const fails = (options: Partial<ResolveOptions>) => configFails({ ...base, ...options });

test("resolveConfig() reads controllerUrl as one URL, a comma-separated list, or a JSON array, normalized and in order", () => {
  expect(resolveConfig(base).config.controllerUrl).toEqual(["http://127.0.0.1:8780"]);
  const flag = resolveConfig({ ...base, argv: ["--controller-url", " HTTPS://A.example.com/ , https://b.example.com:8443/x/"] });
  expect(flag.config.controllerUrl).toEqual(["https://a.example.com", "https://b.example.com:8443/x"]);
  expect(primaryControllerUrl(flag.config)).toBe("https://a.example.com");
  const env = resolveConfig({ ...base, env: { EDGE_RUNNER_CONTROLLER_URL: "https://b.example.com,https://a.example.com" } });
  expect(env.config.controllerUrl).toEqual(["https://b.example.com", "https://a.example.com"]);
  const file = resolveConfig({ ...base, argv: ["--config-file", "/c.json"], readFile: () => JSON.stringify({ controllerUrl: ["https://a.example.com", "https://b.example.com"] }) });
  expect(file.config.controllerUrl).toEqual(["https://a.example.com", "https://b.example.com"]);
  expect(Object.isFrozen(file.config.controllerUrl)).toBe(true);
});

test("resolveConfig() names the index of a bad controllerUrl entry and never echoes its credentials", () => {
  const bad = fails({ argv: ["--controller-url", "https://a.example.com,ftp://b.example.com"] });
  expect(bad.field).toBe("controllerUrl[1]");
  expect(bad.message).toContain(`"controllerUrl[1]"`);
  const empty = fails({ argv: ["--controller-url", "https://a.example.com,,https://b.example.com"] });
  expect(empty.field).toBe("controllerUrl[1]");
  const notText = fails({ argv: ["--config-file", "/c.json"], readFile: () => JSON.stringify({ controllerUrl: ["https://a.example.com", 7] }) });
  expect(notText.field).toBe("controllerUrl[1]");
  const secret = fails({ argv: ["--controller-url", "https://a.example.com,https://user:hunter2@a.example.com:99999/?token=s3cret"] });
  expect(secret.field).toBe("controllerUrl[1]");
  expect(secret.message).not.toContain("hunter2");
  expect(secret.message).not.toContain("s3cret");
  expect(fails({ argv: ["--config-file", "/c.json"], readFile: () => JSON.stringify({ controllerUrl: [] }) }).field).toBe("controllerUrl");
});

test("resolveConfig() refuses a duplicate controllerUrl (after normalizing) and more than 16", () => {
  const dup = fails({ argv: ["--controller-url", "https://a.example.com,https://b.example.com,HTTPS://A.example.com/"] });
  expect(dup.field).toBe("controllerUrl[2]");
  expect(dup.message).toContain("the same URL as entry 0");
  const many = Array.from({ length: 17 }, (_, i) => `https://r${i}.example.com`).join(",");
  const tooMany = fails({ argv: ["--controller-url", many] });
  expect(tooMany.field).toBe("controllerUrl");
  expect(tooMany.message).toContain("17 URLs, expected at most 16");
  expect(resolveConfig({ ...base, argv: ["--controller-url", many.split(",").slice(0, 16).join(",")] }).config.controllerUrl).toHaveLength(16);
});

test("resolveConfig() applies the plain-http rule to every controllerUrl entry", () => {
  const plain = fails({ argv: ["--controller-url", "http://127.0.0.1:8780,http://10.0.0.2:8780"] });
  expect(plain.field).toBe("controllerUrl[1]");
  expect(plain.message).toContain("Refusing plain http controller URL");
  expect(resolveConfig({ ...base, argv: ["--controller-url", "http://127.0.0.1:8780,http://10.0.0.2:8780", "--insecure"] }).config.controllerUrl).toHaveLength(2);
});

test("edge-runner run exits 78 naming controllerUrl[1] for a duplicate replica URL, before any network call", async () => {
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(["run", "--runner-id", "r1", "--api-key", "k-secret-123", "--controller-url", "https://a.example.com,https://a.example.com/"]);
  } finally {
    process.stderr.write = write;
  }
  expect(code).toBe(78);
  expect(errors.join("")).toContain(`"controllerUrl[1]"`);
  expect(errors.join("")).not.toContain("k-secret-123");
});

test("a meshStack runner takes one controllerUrl: a list exits 78", async () => {
  const { meshstackSettings } = await import("../../src/controller/meshstack/from-config.ts");
  const { config } = resolveConfig({ ...base, argv: ["--controller-kind", "meshstack", "--runner-id", "5e8a3f2c-0d4b-4a5e-9c1f-2b3d4e5f6a7b", "--controller-url", "https://a.example.com,https://b.example.com"] });
  let error: unknown;
  try {
    meshstackSettings(config);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).field).toBe("controllerUrl[1]");
});
