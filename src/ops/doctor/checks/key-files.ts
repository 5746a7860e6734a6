// Doctor check: the API key file exists, belongs to the runner's user and is unreadable by anyone
// else (the runner refuses it otherwise). The runner's private key is optional: only jobs with
// encrypted inputs need it, so a missing one warns; a present one must be as private. So must the
// result spool's key (results.key, made at the first saved result): the runner refuses to seal or
// open saved results with one others can read, and found out only when a result had to be saved.

import { join } from "node:path";
import { errorMessage } from "../../../errors.ts";
import { runnerKeyFiles } from "../../../secrets/runner-keys.ts";
import type { DoctorCheck } from "../check.ts";
import { secretFileProblem } from "../file-safety.ts";
import { MAX_CREDENTIAL_FILE_BYTES, readTextFileBounded } from "../../../util/read-file-bounded.ts";

export const keyFilesCheck: DoctorCheck = {
  id: "key-files",
  title: "key files",
  needs: ["config"],
  async run(ctx) {
    const config = ctx.state.config!;
    const checked: string[] = [];
    if (config.apiKeyFile !== undefined) {
      const problem = await secretFileProblem(config.apiKeyFile, ctx.uid);
      if (problem !== undefined) return { status: "fail", summary: `API key file: ${problem.problem}`, fix: problem.fix };
      let key: string;
      try {
        key = (await readTextFileBounded(config.apiKeyFile, MAX_CREDENTIAL_FILE_BYTES)).trim();
      } catch (error) {
        return { status: "fail", summary: `cannot read API key file "${config.apiKeyFile}": ${errorMessage(error)}`, fix: `write the runner's API key into "${config.apiKeyFile}"` };
      }
      if (key === "") return { status: "fail", summary: `API key file "${config.apiKeyFile}" is empty`, fix: `write the runner's API key into "${config.apiKeyFile}"` };
      ctx.state.apiKey = key;
      checked.push(`"${config.apiKeyFile}"`);
    } else if (config.apiKey !== undefined) {
      ctx.state.apiKey = config.apiKey;
    }
    // Where `edge-runner keygen` puts the pair by default, and where the runner looks for it.
    const keyDir = join(config.dataDir, "keys");
    const resultsKey = join(config.runnerKeyDir ?? keyDir, "results.key");
    const resultsProblem = await secretFileProblem(resultsKey, ctx.uid);
    if (resultsProblem !== undefined && !resultsProblem.problem.includes("ENOENT")) return { status: "fail", summary: `result spool key: ${resultsProblem.problem}`, fix: resultsProblem.fix };
    if (resultsProblem === undefined) checked.push(`"${resultsKey}"`);
    const runnerKey = runnerKeyFiles(keyDir).privateKey;
    const problem = await secretFileProblem(runnerKey, ctx.uid);
    if (problem !== undefined) {
      if (problem.problem.includes("ENOENT")) {
        return {
          status: "warn",
          summary: `${checked.length > 0 ? `${checked.join(" and ")}: owner and mode 0600 or stricter; ` : ""}no runner key pair in "${keyDir}": jobs with encrypted inputs ({"$secret": …}) will fail, others run`,
          fix: `edge-runner keygen --out-dir "${keyDir}" (then register the public key it prints), if your jobs send encrypted inputs`,
        };
      }
      return { status: "fail", summary: `runner private key: ${problem.problem}`, fix: problem.fix };
    }
    checked.push(`"${runnerKey}"`);
    return { status: "pass", summary: `${checked.join(" and ")}: owner and mode 0600 or stricter` };
  },
};
