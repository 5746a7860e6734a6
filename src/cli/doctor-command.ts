// `edge-runner doctor`: runs every check in src/ops/doctor/checks/ and prints pass/fail with the
// fix for each; exit 0 only when none failed. Run it as the runner's user with its config.

import { parseDuration } from "../config/duration.ts";
import { optionsHelp } from "../config/help.ts";
import { startOpsCommand } from "../ops/command-flags.ts";
import { formatReport, passed, runDoctor, type DoctorCheck } from "../ops/doctor/check.ts";
import { DOCTOR_CHECKS } from "../ops/doctor/checks/index.ts";
import { EXIT, commandOutput, type Command, type CommandOutput } from "./command.ts";
import { readConfigText } from "../config/read-config-text.ts";

const HELP = `Usage: edge-runner doctor [--json] [--timeout 5s] [options]

Checks the config, key files and their permissions, trusted signing keys, controller
reachability (DNS, TCP, HTTP), TLS and authentication, and the data directory.
Run it as the user the runner runs as, e.g.
  sudo -u edge-runner edge-runner doctor --config-file /etc/edge-runner/config.json
  --json           Print the results as JSON.
  --timeout <dur>  Bound of each network step (default 5s).
`;

export interface DoctorDeps extends CommandOutput {
  env?: Readonly<Record<string, string | undefined>>;
  checks?: readonly DoctorCheck[];
  uid?: number;
}

export function createDoctorCommand(deps: DoctorDeps = {}): Command {
  const { out, err } = commandOutput(deps);
  return {
    name: "doctor",
    summary: "Check config, keys, controller reachability, TLS and authentication.",
    async run(args) {
      const taken = startOpsCommand("doctor", `${HELP}\n${optionsHelp(["runner"])}\n`, args, { "--json": "bool", "--timeout": "string" }, { out, err });
      if ("exit" in taken) return taken.exit;
      const timeoutMs = parseDuration(String(taken.flags.get("--timeout") ?? "5s"));
      if (timeoutMs === undefined || timeoutMs <= 0) {
        err(`edge-runner doctor: invalid value "${String(taken.flags.get("--timeout"))}" for "--timeout": expected a duration such as "5s"\n`);
        return EXIT.usage;
      }
      const reports = await runDoctor(deps.checks ?? DOCTOR_CHECKS, {
        argv: taken.rest,
        env: deps.env ?? process.env,
        readFile: readConfigText,
        uid: deps.uid ?? process.getuid?.(),
        timeoutMs,
        state: {},
      });
      out(taken.flags.has("--json") ? JSON.stringify({ ok: passed(reports), checks: reports }, null, 2) + "\n" : formatReport(reports));
      return passed(reports) ? EXIT.ok : EXIT.failure;
    },
  };
}

export const doctorCommand: Command = createDoctorCommand();
