import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { main } from "../../src/cli/main.ts";
import { ConfigError, resolveConfig } from "../../src/config/resolve.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { controllerOptionsFromConfig } from "../../src/reference-controller/server-config.ts";
import { caBundles } from "../helpers/bad-ca-bundles.ts";

const dir = mkdtempSync(path.join(tmpdir(), "edge-rc-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bundles = caBundles(dir);
const made = { ...bundles, certPem: bundles.leafPem, keyPem: readFileSync(path.join(dir, "key.pem"), "utf8") };
const publicFile = (name: string, text: string): string => {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
};
const privateFile = (name: string, text: string): string => {
  const at = path.join(dir, name);
  writeFileSync(at, text, { mode: 0o600 });
  chmodSync(at, 0o600);
  return at;
};
function thrown(run: () => unknown): { code?: string; field?: string; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code?: string; field?: string; message: string };
  }
  throw new Error("expected a config error");
}
/** What main() wrote to stdout and stderr, and its exit code. */
async function captured(run: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const writes = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    return { code: await run(), stdout, stderr };
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
  }
}
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
  writeFileSync(cert, made.certPem);
  writeFileSync(key, made.keyPem, { mode: 0o644 });
  chmodSync(key, 0o644);
  expect(fieldOf(["--tls-cert-file", cert])).toBe("tlsKeyFile");
  expect(fieldOf(["--tls-key-file", key])).toBe("tlsCertFile");
  expect(fieldOf(["--tls-cert-file", path.join(dir, "missing.pem"), "--tls-key-file", key])).toBe("tlsCertFile");
  expect(fieldOf(["--tls-cert-file", key, "--tls-key-file", key])).toBe("tlsCertFile");
  expect(fieldOf(["--tls-cert-file", cert, "--tls-key-file", key])).toBe("tlsKeyFile"); // mode 0644
  chmodSync(key, 0o600);
  const ok = controllerOptionsFromConfig(config(["--tls-cert-file", cert, "--tls-key-file", key]), memoryLogger().logger);
  expect(ok.tls).toEqual({ cert: made.certPem, key: made.keyPem.trim() });
});

test("tlsCertFile is held to the one PEM certificate rule: a cut-off, corrupt or non-certificate file is config_invalid naming tlsCertFile", () => {
  const key = privateFile("key-ok.pem", made.keyPem);
  // A chain (leaf then CA) with a comment is a good tlsCertFile.
  expect(controllerOptionsFromConfig(config(["--tls-cert-file", publicFile("chain.pem", `# our chain\n${made.certPem}${made.caPem}`), "--tls-key-file", key]), memoryLogger().logger).tls?.cert).toContain(made.caPem);
  for (const [name, pem] of Object.entries({ ...made.bad, "a leaf certificate cut short": made.certPem.slice(0, made.certPem.length - 40) })) {
    const cert = publicFile(`cert-${name.replace(/\W+/g, "-")}.pem`, pem);
    const error = thrown(() => controllerOptionsFromConfig(config(["--tls-cert-file", cert, "--tls-key-file", key]), memoryLogger().logger));
    expect({ name, code: error.code, field: error.field }).toEqual({ name, code: "config_invalid", field: "tlsCertFile" });
    expect(error.message).toStartWith(`Cannot use "tlsCertFile" "${cert}": `);
  }
});

test("tlsKeyFile must hold exactly one unencrypted PEM private key; the error names tlsKeyFile and never quotes the key", () => {
  const cert = publicFile("cert-ok.pem", made.certPem);
  const body = made.keyPem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
  const bad: Record<string, string> = {
    "a key cut short": made.keyPem.slice(0, Math.floor(made.keyPem.length / 2)),
    "a key with a line cut out": made.keyPem.replace(`${body[1]}\n`, ""),
    "a key whose base64 is corrupt": made.keyPem.replace(body[0]!, `${body[0]!.slice(0, 10)}!${body[0]!.slice(11)}`),
    "the certificate instead of the key": made.certPem,
    "two keys": made.keyPem + made.keyPem,
    "an encrypted key": made.keyPem.replace(/PRIVATE KEY/g, "ENCRYPTED PRIVATE KEY"),
    "a public key": made.keyPem.replace(/PRIVATE KEY/g, "PUBLIC KEY"),
    "text, no PEM": "not a key\n",
    "a key pasted on one line": `${made.keyPem.trim().split("\n").join("")}\n`,
  };
  for (const [name, pem] of Object.entries(bad)) {
    const key = privateFile(`key-${name.replace(/\W+/g, "-")}.pem`, pem);
    const error = thrown(() => controllerOptionsFromConfig(config(["--tls-cert-file", cert, "--tls-key-file", key]), memoryLogger().logger));
    expect({ name, code: error.code, field: error.field }).toEqual({ name, code: "config_invalid", field: "tlsKeyFile" });
    expect(error.message).toStartWith(`Cannot use "tlsKeyFile" "${key}": `);
    for (const line of body) expect({ name, quotesKey: error.message.includes(line.slice(8, 24)) }).toEqual({ name, quotesKey: false });
  }
});

test("edge-runner controller exits 78 naming tlsCertFile or tlsKeyFile for a corrupt file, before anything listens", async () => {
  const goodCert = publicFile("cli-cert.pem", made.certPem);
  const goodKey = privateFile("cli-key.pem", made.keyPem);
  const cases = [
    { field: "tlsCertFile", cert: publicFile("cli-cert-cut.pem", made.certPem.slice(0, 200)), key: goodKey },
    { field: "tlsKeyFile", cert: goodCert, key: privateFile("cli-key-cut.pem", made.keyPem.slice(0, 120)) },
  ];
  for (const { field, cert, key } of cases) {
    const dataDir = mkdtempSync(path.join(dir, "cli-"));
    const { code, stdout, stderr } = await captured(() => main(["controller", "--data-dir", dataDir, "--listen-port", "0", "--log-level", "info", "--tls-cert-file", cert, "--tls-key-file", key]));
    expect({ field, code }).toEqual({ field, code: 78 });
    expect(stderr).toStartWith(`edge-runner controller: configuration error: Cannot use "${field}" "${field === "tlsCertFile" ? cert : key}": `);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stdout).not.toContain("http");
  }
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
