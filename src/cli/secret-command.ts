// `edge-runner secret set|list|delete`: the reference controller's secret store from a shell.
// Values are read from a file or stdin, never from the command line (shell history, ps).

import * as fs from "node:fs";
import { clientOptionsHelp } from "../config/help.ts";
import { ConfigError } from "../config/resolve.ts";
import { adminClient, fail, out, parseCommandArgs, withApiErrors, type FlagSpec } from "./admin-support.ts";
import { EXIT, type Command } from "./command.ts";
import { errorMessage } from "../errors.ts";
import { readTextFileBoundedSync } from "../util/read-file-bounded.ts";

/** A secret value is 64 KiB at most (the controller's bound), and one newline. */
const MAX_VALUE_FILE_BYTES = 64 * 1024 + 2;

const USAGE = `Usage:
  edge-runner secret set <name> (--value-file F | --value-stdin)
  edge-runner secret list
  edge-runner secret delete <name>

A job may resolve a secret only if it names it at submit (job submit --secrets name1,name2), and
only on the runner holding its lease. Values are never printed. Every sub-command takes --json,
--controller-url and the admin token (--admin-token-file F, --admin-token T, or --data-dir).
`;

const FLAGS: FlagSpec = { "--value-file": "value", "--value-stdin": "bool", "--json": "bool", "--help": "bool", "-h": "bool" };

export const secretCommand: Command = {
  name: "secret",
  summary: "Store, list and delete secrets jobs resolve by reference: secret set|list|delete.",
  async run(args) {
    const { flags, positionals, config } = parseCommandArgs(args, FLAGS);
    const [sub, name] = positionals;
    if (flags.has("--help") || flags.has("-h") || sub === undefined) {
      out(`${USAGE}\n${clientOptionsHelp()}`);
      return sub === undefined && !flags.has("--help") && !flags.has("-h") ? EXIT.usage : EXIT.ok;
    }
    if (!["set", "list", "delete"].includes(sub) || (sub !== "list" && name === undefined)) {
      fail(`edge-runner secret: ${["set", "list", "delete"].includes(sub) ? "missing the secret name" : `unknown sub-command "${sub}"`}\n\n${USAGE}`);
      return EXIT.usage;
    }
    const json = flags.has("--json");
    const client = adminClient(config);
    return withApiErrors(`secret ${sub}`, async () => {
      if (sub === "list") {
        const { secrets: names, truncated } = await client.listSecrets();
        out(json ? JSON.stringify({ secrets: names, truncated }) : names.length === 0 ? "(no secrets)" : names.join("\n"));
        if (truncated && !json) fail(`edge-runner secret list: the controller holds more than ${names.length} secrets; these are the first ${names.length} by name (it takes no new name until some are deleted)`);
      } else if (sub === "set") {
        await client.setSecret(name as string, readValue(flags.get("--value-file"), flags.has("--value-stdin")));
        out(json ? JSON.stringify({ name, stored: true }) : `Stored secret "${name}"`);
      } else {
        await client.deleteSecret(name as string);
        out(json ? JSON.stringify({ name, deleted: true }) : `Deleted secret "${name}"`);
      }
      return EXIT.ok;
    });
  },
};

function readValue(file: string | boolean | undefined, stdin: boolean): string {
  if ((typeof file === "string") === stdin) {
    throw new ConfigError("--value-file", `Give the value with exactly one of --value-file F or --value-stdin`);
  }
  try {
    // One trailing newline is what `echo` and editors add; it is not part of the secret.
    return (typeof file === "string" ? readTextFileBoundedSync(file, MAX_VALUE_FILE_BYTES) : fs.readFileSync(0, "utf8")).replace(/\r?\n$/, "");
  } catch (error) {
    throw new ConfigError("--value-file", `Cannot read the secret value${typeof file === "string" ? ` from "${file}"` : ""}: ${errorMessage(error)}`);
  }
}
