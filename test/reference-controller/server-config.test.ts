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

test("storeUrl: a password in the URL is refused naming the field (exit 78, before any connection); the password comes from a private file", () => {
  expect(fieldOf(["--store-url", "postgres://edge:s3cret@127.0.0.1:5432/edge"])).toBe("storeUrl");
  expect(fieldOf(["--store-url", "postgresql://edge@127.0.0.1/edge?password=s3cret"])).toBe("storeUrl");
  expect(fieldOf(["--store-url", "mysql://edge@127.0.0.1/edge"])).toBe("storeUrl");
  expect(fieldOf(["--store-url", "postgres://edge@127.0.0.1:5432/"])).toBe("storeUrl");
  const loose = path.join(dir, "pg-password-loose");
  writeFileSync(loose, "pw\n", { mode: 0o644 });
  chmodSync(loose, 0o644);
  expect(fieldOf(["--store-url", "postgres://edge@127.0.0.1:5432/edge", "--store-password-file", loose])).toBe("storePasswordFile");
  expect(fieldOf(["--store-password-file", loose])).toBe("storePasswordFile");
  let message = "";
  try {
    controllerOptionsFromConfig(config(["--store-url", "postgres://edge:s3cret@127.0.0.1:5432/edge"]), memoryLogger().logger);
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message).toContain("storePasswordFile");
  expect(message).not.toContain("s3cret");
  const file = path.join(dir, "pg-password");
  writeFileSync(file, "pw\n", { mode: 0o600 });
  const ok = controllerOptionsFromConfig(config(["--store-url", "postgresql://edge@127.0.0.1:5432/edge", "--store-password-file", file]), memoryLogger().logger);
  expect(ok).toMatchObject({ storeUrl: "postgresql://edge@127.0.0.1:5432/edge", storePassword: "pw" });
  expect(controllerOptionsFromConfig(config([]), memoryLogger().logger).storeUrl).toBeUndefined();
});
