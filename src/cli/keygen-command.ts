// `edge-runner keygen`: the runner's RSA key pair (secret inputs are encrypted to it), or with
// --signing an Ed25519 plugin signing key pair. Prints the public key; never prints a private one.

import { join } from "node:path";
import { commonConfig, parseCommandArgs, stringFlag, UsageError } from "./cli-args.ts";
import { existsSync } from "node:fs";
import { rotateRunnerKey } from "../secrets/key-ring.ts";
import { ensureRunnerKey, runnerKeyFiles } from "../secrets/runner-keys.ts";
import { generateSigningKey } from "../plugin-bundles/signing-keys.ts";
import { EXIT, type Command } from "./command.ts";
import { commandErrorExit } from "./command-error.ts";
import { untrackedSecretWarning } from "./untracked-secret-warning.ts";

const USAGE = `Usage:
  edge-runner keygen [--out-dir DIR] [--force]
      The runner key pair (RSA-4096): DIR/runner-key.pem (mode 0600) and DIR/runner-key.pub.pem.
      An existing pair is kept (its public key is printed) unless --force, which makes a new
      current key and keeps the old one for decryption (same as "edge-runner keys rotate").
  edge-runner keygen --signing [--out-dir DIR] [--kid ID] [--force]
      A plugin signing key pair (Ed25519) as JWK and PEM: DIR/signing-<kid>.key.jwk (0600) …
      The key id defaults to the JWK thumbprint (RFC 7638). Give the .pub.jwk file to runners.
Options:
  --out-dir DIR       default <dataDir>/keys
  --data-dir DIR      the runner's data directory (default ./.edge-runner, env EDGE_RUNNER_DATA_DIR)
  --config-file FILE  JSON config file
`;

export const keygenCommand: Command = {
  name: "keygen",
  summary: "Create the runner key pair, or a plugin signing key pair with --signing.",
  async run(args) {
    try {
      const { values, positionals } = parseCommandArgs(args, {
        "out-dir": { type: "string" },
        force: { type: "boolean" },
        signing: { type: "boolean" },
        kid: { type: "string" },
      });
      if (values.help === true) {
        process.stdout.write(USAGE);
        return EXIT.ok;
      }
      if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
      if (values.signing !== true && values.kid !== undefined) throw new UsageError(`Option "--kid" needs --signing`);
      const outDir = stringFlag(values, "out-dir") ?? join(commonConfig(values).dataDir, "keys");
      const force = values.force === true;

      if (values.signing === true) {
        const kid = stringFlag(values, "kid");
        const key = await generateSigningKey({ outDir, force, ...(kid === undefined ? {} : { kid }) });
        process.stderr.write(
          `Created signing key "${key.kid}":\n  private: ${key.files.privateJwk} (0600), ${key.files.privatePem} (0600)\n` +
            `  public:  ${key.files.publicJwk}, ${key.files.publicPem}\n` +
            `Copy the public JWK into each runner's trusted keys directory; keep the private one off runners.\n` +
            untrackedSecretWarning([key.files.privateJwk, key.files.privatePem]),
        );
        process.stdout.write(JSON.stringify(key.publicJwk, null, 2) + "\n" + withNewline(key.publicPem));
        return EXIT.ok;
      }
      // --force over an existing key rotates: the old key stays in the ring (runner-key.<kid>.pem),
      // so inputs already encrypted to it still decrypt (meshcloud's runners lose them).
      const rotated = force && existsSync(runnerKeyFiles(outDir).privateKey) ? await rotateRunnerKey(outDir) : undefined;
      const result = await ensureRunnerKey({ outDir, force: force && rotated === undefined });
      process.stderr.write(
        rotated !== undefined
          ? `Created runner key "${rotated.current}" in ${outDir}; kept the previous key "${rotated.previous ?? ""}" for decryption (remove it with "edge-runner keys retire ${rotated.previous ?? ""}" once nothing needs it)\n`
          : result.created
          ? `Created runner key pair: ${result.files.privateKey} (0600), ${result.files.publicKey}\n${untrackedSecretWarning([result.files.privateKey])}`
          : `Kept the existing runner key pair in ${outDir} (use --force to replace it)\n`,
      );
      process.stdout.write(withNewline(result.publicPem));
      return EXIT.ok;
    } catch (error) {
      return commandErrorExit(error, { label: "edge-runner keygen", usage: USAGE });
    }
  },
};

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : text + "\n";
}
