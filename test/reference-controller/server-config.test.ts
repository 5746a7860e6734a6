import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ConfigError, resolveConfig } from "../../src/config/resolve.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { controllerOptionsFromConfig } from "../../src/reference-controller/server-config.ts";

const dir = mkdtempSync(path.join(tmpdir(), "edge-rc-config-"));
const config = (argv: string[]) => resolveConfig({ scopes: ["controller"], argv, env: {} }).config;
const fieldOf = (argv: string[]): string => {
  try {
    controllerOptionsFromConfig(config(argv), memoryLogger().logger);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).field;
  }
  throw new Error("expected a ConfigError");
};

test("controllerOptionsFromConfig() wants tlsCertFile and tlsKeyFile together, readable, and the key private", () => {
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", { mode: 0o644 });
  expect(fieldOf(["--tls-cert-file", cert])).toBe("tlsKeyFile");
  expect(fieldOf(["--tls-key-file", key])).toBe("tlsCertFile");
  expect(fieldOf(["--tls-cert-file", path.join(dir, "missing.pem"), "--tls-key-file", key])).toBe("tlsCertFile");
  expect(fieldOf(["--tls-cert-file", key, "--tls-key-file", key])).toBe("tlsCertFile");
  expect(fieldOf(["--tls-cert-file", cert, "--tls-key-file", key])).toBe("tlsKeyFile"); // mode 0644
  chmodSync(key, 0o600);
  const ok = controllerOptionsFromConfig(config(["--tls-cert-file", cert, "--tls-key-file", key]), memoryLogger().logger);
  expect(ok.tls?.cert).toContain("BEGIN CERTIFICATE");
});
