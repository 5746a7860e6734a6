// `edge-runner job submit|get|list|cancel|approve|reject|logs|artifacts|artifact`: the reference controller's jobs from a shell.

import * as fs from "node:fs";
import { clientOptionsHelp } from "../config/help.ts";
import { ConfigError } from "../config/resolve.ts";
import { UsageError } from "../config/usage-error.ts";
import { builtinInputProblem } from "../plugins/builtin/schemas.ts";
import { isTerminal, JOB_STATES, type JobState } from "../reference-controller/job-state.ts";
import type { JobEvent } from "../reference-controller/job-logs.ts";
import type { JobJson } from "../reference-controller/records.ts";
import { adminClient, fail, out, parseCommandArgs, table, time, withApiErrors, type FlagSpec } from "./admin-support.ts";
import type { AdminClient, SubmitJobRequest } from "./http-client.ts";
import { EXIT, type Command } from "./command.ts";
import { errorMessage } from "../errors.ts";
import { readTextFileBoundedSync } from "../util/read-file-bounded.ts";

/** The controller takes a request body of 4 MiB: a bigger input file cannot be sent. */
const MAX_INPUT_FILE_BYTES = 4 * 1024 * 1024;
/** A secret value is 64 KiB at most (the controller's bound), and one newline. */
const MAX_SECRET_VALUE_FILE_BYTES = 64 * 1024 + 2;

const USAGE = `Usage:
  edge-runner job submit <plugin> [--action a] [--input JSON | --input-file F] [--group g]
                        [--secrets name1,name2] [--secret NAME=VALUE]... [--wait]
  edge-runner job get <id>
  edge-runner job list [--status s] [--group g] [--limit n]
  edge-runner job cancel <id>
  edge-runner job approve|reject <id> [--comment text]   (answers a job's manual step)
  edge-runner job logs <id> [--follow]
  edge-runner job artifacts <id>                 (the artifacts the job kept: name, size, SHA-256)
  edge-runner job artifact <id> <name> > file    (one artifact's bytes to stdout, digest checked)

--secret NAME=VALUE (repeatable) adds input NAME encrypted by the controller to the current keys
of the group's runners: the controller stores only ciphertext, the plugin sees the value. A value
given on the command line is visible to other local users in the process list; prefer
--secret NAME=@FILE, which reads the value from FILE (one trailing newline dropped).

Every sub-command takes --json (machine-readable output), --controller-url and the admin token
(--admin-token-file F, --admin-token T, or the controller's --data-dir).
`;

const FLAGS: FlagSpec = {
  "--action": "value", "--input": "value", "--input-file": "value", "--group": "value", "--wait": "bool", "--secrets": "value",
  "--status": "value", "--limit": "value", "--follow": "bool", "--comment": "value", "--json": "bool", "--help": "bool", "-h": "bool",
};

export const jobCommand: Command = {
  name: "job",
  summary: "Submit, inspect, cancel, approve or reject jobs, read their logs and artifacts: job submit|get|list|cancel|approve|reject|logs|artifacts|artifact.",
  async run(args) {
    const { secretInputs, rest: otherArgs } = takeSecretFlags(args);
    const { flags, positionals, config } = parseCommandArgs(otherArgs, FLAGS);
    const [sub, ...rest] = positionals;
    if (flags.has("--help") || flags.has("-h") || sub === undefined) {
      out(`${USAGE}\n${clientOptionsHelp()}`);
      return sub === undefined && !flags.has("--help") && !flags.has("-h") ? EXIT.usage : EXIT.ok;
    }
    const json = flags.has("--json");
    const str = (name: string) => (typeof flags.get(name) === "string" ? (flags.get(name) as string) : undefined);
    const needId = (what: string): string | undefined => {
      if (rest[0] === undefined) fail(`edge-runner job ${sub}: missing the ${what}\n\n${USAGE}`);
      return rest[0];
    };
    if (!["submit", "get", "list", "cancel", "approve", "reject", "logs", "artifacts", "artifact"].includes(sub)) {
      fail(`edge-runner job: unknown sub-command "${sub}"\n\n${USAGE}`);
      return EXIT.usage;
    }
    const client = adminClient(config);
    return withApiErrors(`job ${sub}`, async () => {
      switch (sub) {
        case "submit": {
          const plugin = needId("plugin name");
          if (plugin === undefined) return EXIT.usage;
          await warnUnknownPlugin(plugin);
          const request: SubmitJobRequest = { plugin, input: readInput(str("--input"), str("--input-file")) };
          const action = str("--action"), group = str("--group");
          if (action !== undefined) request.action = action;
          if (group !== undefined) request.group = group;
          const secrets = str("--secrets");
          if (secrets !== undefined) request.secrets = secrets.split(",").map((s) => s.trim()).filter((s) => s !== "");
          if (secretInputs !== undefined) request.secretInputs = secretInputs;
          // A built-in integration's input is checked against its JSON Schema before anything is sent.
          const problem = builtinInputProblem(plugin, action, request.input);
          if (problem !== undefined) throw new UsageError(`Cannot submit a "${plugin}" job: ${problem}`, "--input");
          let job = await client.submitJob(request);
          if (!flags.has("--wait")) return print(job, json);
          while (!isTerminal(job.status as JobState)) job = await client.waitJob(job.id, 30_000);
          print(job, json);
          return job.status === "succeeded" ? EXIT.ok : EXIT.failure;
        }
        case "get": {
          const id = needId("job id");
          return id === undefined ? EXIT.usage : print(await client.getJob(id), json);
        }
        case "cancel": {
          const id = needId("job id");
          return id === undefined ? EXIT.usage : print(await client.cancelJob(id), json);
        }
        case "approve":
        case "reject": {
          const id = needId("job id");
          return id === undefined ? EXIT.usage : print(await client.decideJob(id, sub, str("--comment")), json);
        }
        case "list": {
          const status = str("--status"), group = str("--group"), limit = str("--limit");
          if (status !== undefined && !JOB_STATES.includes(status as JobState)) {
            fail(`edge-runner job list: unknown status "${status}" (one of ${JOB_STATES.join(", ")})`);
            return EXIT.usage;
          }
          const filter: { status?: string; group?: string; limit?: number } = {};
          if (status !== undefined) filter.status = status;
          if (group !== undefined) filter.group = group;
          if (limit !== undefined) filter.limit = Number(limit);
          const jobs = await client.listJobs(filter);
          if (json) out(JSON.stringify({ jobs }));
          else out(table([["ID", "STATUS", "PLUGIN", "ACTION", "GROUP", "ATTEMPT", "RUNNER", "SUBMITTED"], ...jobs.map(row)]));
          return EXIT.ok;
        }
        case "logs": {
          const id = needId("job id");
          return id === undefined ? EXIT.usage : streamLogs(client, id, flags.has("--follow"), json);
        }
        case "artifacts": {
          const id = needId("job id");
          if (id === undefined) return EXIT.usage;
          const artifacts = await client.listArtifacts(id);
          if (json) out(JSON.stringify({ artifacts }));
          else if (artifacts.length === 0) out(`Job "${id}" kept no artifacts.`);
          else out(table([["NAME", "SIZE", "SHA256", "TYPE", "ATTEMPT"], ...artifacts.map((a) => [a.name, String(a.size), a.sha256, a.contentType ?? "", String(a.attempt)])]));
          return EXIT.ok;
        }
        case "artifact": {
          const id = needId("job id");
          if (id === undefined) return EXIT.usage;
          if (rest[1] === undefined) {
            fail(`edge-runner job artifact: missing the artifact name\n\n${USAGE}`);
            return EXIT.usage;
          }
          return writeArtifact(client, id, rest[1]);
        }
        default:
          fail(`edge-runner job: unknown sub-command "${sub}"\n\n${USAGE}`);
          return EXIT.usage;
      }
    });
  },
};

/** Streams an artifact to stdout, hashing it on the way; a digest that differs from the controller's fails. */
async function writeArtifact(client: AdminClient, id: string, name: string): Promise<number> {
  const { createHash } = await import("node:crypto");
  const { body, sha256 } = await client.getArtifact(id, name);
  const hash = createHash("sha256");
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    if (!process.stdout.write(chunk)) await new Promise<void>((resolve) => process.stdout.once("drain", () => resolve()));
  }
  const got = hash.digest("hex");
  if (sha256 !== null && got !== sha256) {
    process.stderr.write(`edge-runner job artifact: the bytes received (SHA-256 ${got}) differ from the recorded ${sha256}\n`);
    return EXIT.failure;
  }
  return EXIT.ok;
}

/**
 * A name without @version runs only as a built-in: say so before the job fails on a runner. A
 * warning, not a refusal: runners of another version may have built-ins this CLI does not.
 */
async function warnUnknownPlugin(plugin: string): Promise<void> {
  if (plugin.includes("@")) return;
  const { BUILTIN_PLUGINS } = await import("../plugins/builtin/index.ts");
  if (BUILTIN_PLUGINS.has(plugin)) return;
  const { noBuiltinMessage } = await import("../plugin-bundles/bundle-resolver.ts");
  fail(`Warning: ${noBuiltinMessage(plugin)}; submitting anyway for runners that have it.`);
}

function readInput(inline: string | undefined, file: string | undefined): unknown {
  if (inline !== undefined && file !== undefined) throw new UsageError(`Options "--input" and "--input-file" exclude each other: set one`, "--input");
  const text = inline ?? (file === undefined ? undefined : readFile(file));
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = file === undefined ? `--input` : `--input-file "${file}"`;
    throw new UsageError(`Cannot parse the job input of ${where} as JSON: ${errorMessage(error)}`, file === undefined ? "--input" : "--input-file");
  }
}

function readFile(file: string): string {
  try {
    return readTextFileBoundedSync(file, MAX_INPUT_FILE_BYTES);
  } catch (error) {
    throw new ConfigError("--input-file", `Cannot read input file "${file}": ${errorMessage(error)}`);
  }
}

function row(job: JobJson): string[] {
  return [job.id, job.status, job.plugin, job.action, job.group, `${job.attempt}/${job.maxAttempts}`, job.runnerId ?? "-", time(job.submittedAt)];
}

function print(job: JobJson, json: boolean): number {
  if (json) {
    out(JSON.stringify(job));
    return EXIT.ok;
  }
  const lines: Array<[string, string]> = [
    ["id", job.id], ["status", job.status], ["plugin", `${job.plugin} (action ${job.action})`], ["group", job.group],
    // Leases given back unstarted (local prefetch's `release`) do not count toward maxAttempts.
    ["attempt", `${job.attempt} of ${job.maxAttempts}${job.releasedLeases === undefined ? "" : ` (${job.releasedLeases} given back unstarted, not counted)`}`], ["runner", job.runnerId ?? "-"],
    ["submitted", time(job.submittedAt)], ["started", time(job.startedAt)], ["finished", time(job.finishedAt)],
  ];
  if (job.error !== undefined) lines.push(["error", `${job.error.code}: ${job.error.message}`]);
  if (job.output !== undefined) lines.push(["output", JSON.stringify(job.output)]);
  if (job.approval !== undefined) lines.push(["approval", `${job.approval.decision} ${time(job.approval.at)}${job.approval.comment === undefined ? "" : ` (${job.approval.comment})`}`]);
  if (job.callbackResult !== undefined) lines.push(["callback", `${job.callbackResult.status} ${time(job.callbackResult.at)}${job.callbackResult.error === undefined ? "" : ` ${job.callbackResult.error.code}: ${job.callbackResult.error.message}`}`]);
  out(lines.map(([k, v]) => `${k.padEnd(10)} ${v}`).join("\n"));
  return EXIT.ok;
}

function formatEvent(event: JobEvent): string {
  if (event.type === "step") {
    const s = event.step;
    return `[attempt ${event.attempt}] step ${s.name ?? s.id}: ${s.status}${s.message === undefined ? "" : ` (${s.message})`}`;
  }
  return event.lines.map((l) => `[attempt ${event.attempt}] ${time(l.ts)} ${l.level.toUpperCase().padEnd(5)} ${l.msg}`).join("\n");
}

/** Prints events; with `follow`, keeps reading until the job is terminal and fully printed. */
async function streamLogs(client: AdminClient, id: string, follow: boolean, json: boolean): Promise<number> {
  let after = 0;
  for (;;) {
    const { events, nextSeq } = await client.jobLogs(id, after);
    for (const event of events) out(json ? JSON.stringify(event) : formatEvent(event));
    after = nextSeq;
    if (events.length > 0) continue;
    if (!follow) return EXIT.ok;
    // Waiting on the job doubles as the pause between reads: it returns at once when it ends.
    const job = await client.waitJob(id, 1000);
    if (isTerminal(job.status as JobState)) {
      const last = await client.jobLogs(id, after);
      for (const event of last.events) out(json ? JSON.stringify(event) : formatEvent(event));
      if (last.events.length === 0) {
        // The last line says how it ended, even for a job that logged nothing.
        if (!json) out(`job ${job.id} ${job.status}${job.error === undefined ? "" : `: ${job.error.code}: ${job.error.message}`}`);
        return EXIT.ok;
      }
      after = last.nextSeq;
    }
  }
}

/** Takes every `--secret NAME=VALUE` (or NAME=@FILE) out of the arguments; the flag may repeat. */
function takeSecretFlags(args: readonly string[]): { secretInputs?: Record<string, string>; rest: string[] } {
  const rest: string[] = [];
  let secretInputs: Record<string, string> | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (arg !== "--secret" && !arg.startsWith("--secret=")) {
      rest.push(arg);
      continue;
    }
    const spec = arg === "--secret" ? args[++i] : arg.slice("--secret=".length);
    const eq = spec?.indexOf("=") ?? -1;
    if (spec === undefined || eq <= 0) throw new UsageError(`Option "--secret" needs NAME=VALUE or NAME=@FILE`, "--secret");
    const name = spec.slice(0, eq);
    let value = spec.slice(eq + 1);
    if (value.startsWith("@")) {
      try {
        value = readTextFileBoundedSync(value.slice(1), MAX_SECRET_VALUE_FILE_BYTES).replace(/\r?\n$/, "");
      } catch (error) {
        throw new ConfigError("--secret", `Cannot read secret input "${name}" from "${value.slice(1)}": ${errorMessage(error)}`);
      }
    }
    secretInputs ??= {};
    secretInputs[name] = value;
  }
  return secretInputs === undefined ? { rest } : { secretInputs, rest };
}
