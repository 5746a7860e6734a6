// `edge-runner runner register|list|delete`: runners of the reference controller from a shell.

import * as fs from "node:fs";
import { clientOptionsHelp } from "../config/help.ts";
import { ConfigError } from "../config/resolve.ts";
import { adminClient, fail, out, parseCommandArgs, table, time, withApiErrors, type FlagSpec } from "./admin-support.ts";
import { EXIT, type Command } from "./command.ts";
import { errorMessage } from "../errors.ts";
import { readTextFileBoundedSync } from "../util/read-file-bounded.ts";

const USAGE = `Usage:
  edge-runner runner register <id> [--group g] [--public-key-file F] [--api-key-out FILE] [--rotate]
  edge-runner runner list
  edge-runner runner delete <id>

register prints the new API key once (or writes it, mode 0600, to --api-key-out); --rotate issues
a new key for a registered runner. Every sub-command takes --json, --controller-url and the admin
token (--admin-token-file F, --admin-token T, or the controller's --data-dir).
`;

const FLAGS: FlagSpec = {
  "--group": "value", "--public-key-file": "value", "--api-key-out": "value", "--rotate": "bool",
  "--json": "bool", "--help": "bool", "-h": "bool",
};

export const runnerAdminCommand: Command = {
  name: "runner",
  summary: "Register and list runners on the reference controller: runner register|list.",
  async run(args) {
    const { flags, positionals, config } = parseCommandArgs(args, FLAGS);
    const [sub, id] = positionals;
    if (flags.has("--help") || flags.has("-h") || sub === undefined) {
      out(`${USAGE}\n${clientOptionsHelp()}`);
      return sub === undefined && !flags.has("--help") && !flags.has("-h") ? EXIT.usage : EXIT.ok;
    }
    const json = flags.has("--json");
    const str = (name: string) => (typeof flags.get(name) === "string" ? (flags.get(name) as string) : undefined);
    if (!["register", "list", "delete"].includes(sub)) {
      fail(`edge-runner runner: unknown sub-command "${sub}"\n\n${USAGE}`);
      return EXIT.usage;
    }
    const client = adminClient(config);
    return withApiErrors(`runner ${sub}`, async () => {
      switch (sub) {
        case "register": {
          if (id === undefined) {
            fail(`edge-runner runner register: missing the runner id\n\n${USAGE}`);
            return EXIT.usage;
          }
          const keyFile = str("--public-key-file"), keyOut = str("--api-key-out"), group = str("--group");
          const input: { id: string; group?: string; publicKey?: string } = { id };
          if (group !== undefined) input.group = group;
          if (keyFile !== undefined) input.publicKey = readPublicKey(keyFile);
          const created = await client.registerRunner(input, { rotate: flags.has("--rotate") });
          if (keyOut !== undefined) {
            writeKeyFile(keyOut, created.apiKey);
            out(json ? JSON.stringify({ id: created.id, group: created.group, apiKeyFile: keyOut }) : `Registered runner "${created.id}" in group "${created.group}"; API key written to ${keyOut}`);
          } else if (json) {
            out(JSON.stringify(created));
          } else {
            out(`Registered runner "${created.id}" in group "${created.group}".\nAPI key (shown once; store it now, e.g. in the runner's apiKeyFile):\n${created.apiKey}`);
          }
          return EXIT.ok;
        }
        case "list": {
          const runners = await client.listRunners();
          if (json) out(JSON.stringify({ runners }));
          else {
            out(table([
              ["ID", "GROUP", "STATUS", "CONNECTED", "TRANSPORT", "VERSION", "JOBS", "LAST SEEN"],
              ...runners.map((r) => [r.id, r.group, r.status, r.connected ? "yes" : "no", r.transport ?? "-", r.version ?? "-", String(r.runningJobs), time(r.lastSeenAt)]),
            ]));
          }
          return EXIT.ok;
        }
        case "delete": {
          if (id === undefined) {
            fail(`edge-runner runner delete: missing the runner id\n\n${USAGE}`);
            return EXIT.usage;
          }
          const deleted = await client.deleteRunner(id);
          out(json ? JSON.stringify(deleted) : `Deregistered runner "${id}"`);
          return EXIT.ok;
        }
        default:
          fail(`edge-runner runner: unknown sub-command "${sub}"\n\n${USAGE}`);
          return EXIT.usage;
      }
    });
  },
};

function readPublicKey(file: string): string {
  try {
    return readTextFileBoundedSync(file, 64 * 1024).trim();
  } catch (error) {
    throw new ConfigError("--public-key-file", `Cannot read public key file "${file}": ${errorMessage(error)}`);
  }
}

/** Writes the key with mode 0600, refusing to overwrite an existing file (it may be another key). */
function writeKeyFile(file: string, apiKey: string): void {
  try {
    fs.writeFileSync(file, apiKey + "\n", { mode: 0o600, flag: "wx" });
  } catch (error) {
    throw new ConfigError("--api-key-out", `Cannot write the API key to "${file}": ${errorMessage(error)}`);
  }
}
