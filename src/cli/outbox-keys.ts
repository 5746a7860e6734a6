// `edge-runner keys list|rotate|retire --outbox`: the meshStack outbox key, rotated like the ring.
// `rotate` makes a new outbox.key and keeps the old one beside it; the runner reads the new one
// within keyRingCheckMs (or at its next start), seals new records with it and reseals the ones it
// holds; `retire ID` removes an old key once no record on disk is sealed with it.

import { resolveConfig, type Config } from "../config/resolve.ts";
import { EdgeError } from "../errors.ts";
import { AtRestKeyRing, retireAtRestKey, rotateAtRestKey } from "../secrets/at-rest-ring.ts";
import { stringFlag, type ParsedArgs } from "./cli-args.ts";
import { EXIT } from "./command.ts";
import { readConfigText } from "../config/read-config-text.ts";

const OWNER = "meshStack outbox";

/** The runner's config as far as the outbox key's place goes: data directory, key directory, key file (flags, env, config file). */
function runnerConfig(values: ParsedArgs["values"]): Config {
  const argv: string[] = [];
  for (const [flag, option] of [["data-dir", "data-dir"], ["config-file", "config-file"], ["key-dir", "runner-key-dir"], ["meshstack-outbox-key-file", "meshstack-outbox-key-file"]] as const) {
    const value = stringFlag(values, flag);
    if (value !== undefined) argv.push(`--${option}`, value);
  }
  return resolveConfig({ scopes: ["runner"], argv, env: process.env, readFile: readConfigText }).config;
}

export async function outboxKeysCommand(sub: "list" | "rotate" | "retire", id: string | undefined, values: ParsedArgs["values"]): Promise<number> {
  const config = runnerConfig(values);
  const { outboxKeyFile } = await import("../controller/meshstack/from-config.ts");
  const { RunOutboxStore } = await import("../controller/meshstack/outbox.ts");
  const file = outboxKeyFile(config);
  if (sub === "rotate") {
    const result = await rotateAtRestKey(file, OWNER);
    process.stderr.write(result.previous === undefined
      ? `Created the meshStack outbox key "${result.current}" in ${file}\n`
      : `Rotated the meshStack outbox key in ${file}: "${result.current}" is current; "${result.previous}" is kept to open what it sealed until you retire it (the runner reseals its records within keyRingCheckMs, or at its next start)\n`);
    process.stdout.write(`${result.current}\n`);
    return EXIT.ok;
  }
  const ring = AtRestKeyRing.load(file, OWNER, { create: false });
  const usage = ring === undefined ? { byKey: {}, unknown: 0 } : await new RunOutboxStore(config.dataDir, ring).keyUsage();
  if (sub === "retire") {
    const records = usage.byKey[id as string] ?? 0;
    if (records > 0 && ring?.get(id as string)?.current === false) {
      throw new EdgeError("conflict", `Cannot retire meshStack outbox key "${id}": ${records} outbox record(s) in "${RunOutboxStore.dirOf(config.dataDir)}" are sealed with it; start the runner (it reseals them under the current key within keyRingCheckMs) and try again`);
    }
    await retireAtRestKey(file, OWNER, id as string);
    process.stderr.write(`Retired meshStack outbox key "${id}"\n`);
    return EXIT.ok;
  }
  const rows = (ring?.keys ?? []).map((key) => ({ id: key.id, current: key.current, records: usage.byKey[key.id] ?? 0, file: key.file }));
  if (values.json === true) process.stdout.write(JSON.stringify({ file, keys: rows, unreadableRecords: usage.unknown }) + "\n");
  else if (rows.length === 0) process.stdout.write(`(no meshStack outbox key at ${file}; the runner makes one at its first start with controllerKind meshstack)\n`);
  else for (const row of rows) process.stdout.write(`${row.id}  ${row.current ? "current " : "retained"}  ${row.records} record(s)  ${row.file}\n`);
  if (values.json !== true && usage.unknown > 0) process.stdout.write(`${usage.unknown} record(s) no key here opens (in clear from an older version, or sealed with a key that is gone)\n`);
  return EXIT.ok;
}
