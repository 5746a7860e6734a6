// `edge-runner keys list|rotate|retire|cert`: the runner's key ring. `rotate` makes a new current
// key and keeps the old one for decryption; `retire KID` removes an old key once nothing
// encrypted to it is left. A running runner notices either within its key check interval and
// tells the controller its new public keys. With --outbox, the same for the meshStack outbox key
// (outbox-keys.ts).

import { join } from "node:path";
import { EdgeError } from "../errors.ts";
import { commonConfig, parseCommandArgs, stringFlag, UsageError } from "./cli-args.ts";
import { RunnerKeyRing, retireRunnerKey, rotateRunnerKey } from "../secrets/key-ring.ts";
import { privateKeyOf } from "../secrets/ring-private-key.ts";
import { loadMeshstackPrivateKey } from "../secrets/meshstack-decrypt.ts";
import { readPrivateKeyFile } from "../secrets/runner-keys.ts";
import { selfSignedCertificate } from "../secrets/self-signed-certificate.ts";
import { EXIT, type Command } from "./command.ts";
import { commandErrorExit } from "./command-error.ts";
import { outboxKeysCommand } from "./outbox-keys.ts";

const USAGE = `Usage:
  edge-runner keys list [--json]       the ring: key id (RFC 7638), current or retained, size, file
  edge-runner keys rotate              make a new current key; the old one stays for decryption
  edge-runner keys retire <KID>        remove a retained key (after re-encrypting what needed it)
  edge-runner keys list|rotate|retire --outbox [<ID>]
                                       the same for the meshStack outbox key (outbox.key): list
                                       shows how many outbox records each key sealed; retire
                                       refuses a key that still seals one
  edge-runner keys cert [--runner-key-file FILE] [--common-name CN] [--days N]
                                       a self-signed X.509 certificate (PEM) for the current key, or
                                       for FILE: what meshStack registers as the runner's public key
Options:
  --key-dir DIR       default <dataDir>/keys
  --meshstack-outbox-key-file FILE  with --outbox: the runner's meshstackOutboxKeyFile
  --data-dir DIR      the runner's data directory (default ./.edge-runner, env EDGE_RUNNER_DATA_DIR)
  --config-file FILE  JSON config file
`;

export const keysCommand: Command = {
  name: "keys",
  summary: "The runner's key ring for encrypted inputs: keys list|rotate|retire|cert; --outbox: the meshStack outbox key.",
  async run(args) {
    try {
      const { values, positionals } = parseCommandArgs(keyIdsAsPositionals(args), {
        "key-dir": { type: "string" },
        json: { type: "boolean" },
        outbox: { type: "boolean" },
        "meshstack-outbox-key-file": { type: "string" },
        "runner-key-file": { type: "string" },
        "common-name": { type: "string" },
        days: { type: "string" },
      });
      if (values.help === true) {
        process.stdout.write(USAGE);
        return EXIT.ok;
      }
      const [sub, kid, extra] = positionals;
      if (sub === undefined) throw new UsageError("Missing a sub-command (list, rotate, retire or cert)");
      if (!["list", "rotate", "retire", "cert"].includes(sub)) throw new UsageError(`Unknown sub-command "${sub}"`);
      if (sub === "retire" && kid === undefined) throw new UsageError("Missing the key id to retire");
      if ((sub === "retire" ? extra : kid) !== undefined) throw new UsageError(`Unexpected argument "${sub === "retire" ? extra : kid}"`);
      if (values.outbox === true) {
        if (sub === "cert") throw new UsageError(`Option "--outbox" goes with list, rotate or retire, not cert`);
        return await outboxKeysCommand(sub as "list" | "rotate" | "retire", kid, values);
      }
      const dir = stringFlag(values, "key-dir") ?? join(commonConfig(values).dataDir, "keys");
      if (sub === "cert") {
        process.stdout.write(await certificateFor(dir, values));
        return EXIT.ok;
      }
      if (sub === "rotate") {
        const result = await rotateRunnerKey(dir);
        process.stderr.write(result.previous === undefined
          ? `Created the runner's first key "${result.current}" in ${dir}\n`
          : `Rotated the runner key in ${dir}: "${result.current}" is current; "${result.previous}" is kept for decryption until you retire it\n`);
        process.stdout.write(`${result.current}\n`);
        return EXIT.ok;
      }
      if (sub === "retire") {
        await retireRunnerKey(dir, kid as string);
        process.stderr.write(`Retired runner key "${kid}": inputs encrypted to it can no longer be decrypted\n`);
        return EXIT.ok;
      }
      const ring = await RunnerKeyRing.load(dir);
      const rows = ring.keys.map((key) => ({ kid: key.kid, current: key.current, bits: key.modulusLength, file: key.file }));
      if (values.json === true) process.stdout.write(JSON.stringify({ dir, keys: rows }) + "\n");
      else if (rows.length === 0) process.stdout.write(`(no runner key in ${dir}; run "edge-runner keygen" or "edge-runner keys rotate")\n`);
      else for (const row of rows) process.stdout.write(`${row.kid}  ${row.current ? "current " : "retained"}  RSA-${row.bits}  ${row.file}\n`);
      return EXIT.ok;
    } catch (error) {
      return commandErrorExit(error, { label: "edge-runner keys", usage: USAGE });
    }
  },
};

/** A key id is an RFC 7638 thumbprint: 43 base64url characters, one in 64 starting with "-". */
const KEY_ID = /^-[A-Za-z0-9_-]{42}$/;

/**
 * Moves key ids that start with "-" behind "--", so the flag parser takes them as the id a user
 * copied from `keys list` rather than as an unknown option (which would exit 64).
 */
function keyIdsAsPositionals(args: string[]): string[] {
  const end = args.indexOf("--");
  const head = end === -1 ? args : args.slice(0, end);
  const ids = head.filter((arg) => KEY_ID.test(arg));
  if (ids.length === 0) return args;
  const rest = end === -1 ? [] : args.slice(end + 1);
  return [...head.filter((arg) => !KEY_ID.test(arg)), "--", ...ids, ...rest];
}

/** `keys cert`: the certificate meshStack registers, for the current key or an extra key file. */
async function certificateFor(dir: string, values: Record<string, string | boolean | string[] | undefined>): Promise<string> {
  const daysText = stringFlag(values, "days");
  const days = daysText === undefined ? 3650 : Number(daysText);
  if (!Number.isSafeInteger(days) || days < 1 || days > 36500) throw new UsageError(`Option "--days" must be a whole number from 1 to 36500, got "${daysText}"`);
  const file = stringFlag(values, "runner-key-file");
  let privateKey;
  if (file !== undefined) {
    privateKey = loadMeshstackPrivateKey(await readPrivateKeyFile(file), `runner key file "${file}"`);
  } else {
    const current = (await RunnerKeyRing.load(dir)).current;
    if (current === undefined) throw new EdgeError("config_invalid", `Cannot make a certificate: no runner key in "${dir}"; run "edge-runner keygen" first`);
    privateKey = privateKeyOf(current);
  }
  return selfSignedCertificate({ privateKey, commonName: stringFlag(values, "common-name") ?? "edge-runner", days });
}
