// A journal line read back on replay, checked before it is applied: the file is the controller's
// own, but a disk, a copy or an editor can damage it, and one job with an unknown status or a
// group that is not a string used to stop the controller from starting at all (a TypeError deep
// in the queue, naming neither the file nor the field). A line that fails is skipped and logged
// like a line that does not parse; the job's earlier record, if any, stands.

import { JOB_STATES } from "./job-state.ts";

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const isText = (v: unknown, max = 1024): boolean => typeof v === "string" && v.length > 0 && v.length <= max;
const isCount = (v: unknown, min = 0): boolean => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
const isTime = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

/** What is wrong with `value` as a journal record, naming the field; undefined when it can be applied. */
export function journalRecordProblem(value: unknown): string | undefined {
  if (!isObject(value)) return "the record is not an object";
  if (value.t === "runner_deleted") return isText(value.id) ? undefined : `"id" is not a runner id`;
  if (value.t === "runner") return runnerProblem(value.runner);
  if (value.t === "job") return jobProblem(value.job);
  return `"t" is not one of job, runner, runner_deleted`;
}

function runnerProblem(runner: unknown): string | undefined {
  if (!isObject(runner)) return `"runner" is not an object`;
  if (!isText(runner.id)) return `"runner.id" is not a runner id`;
  if (!isText(runner.group)) return `"runner.group" is not a group`;
  if (!isText(runner.apiKeyHash, 128)) return `"runner.apiKeyHash" is not a key hash`;
  if (!isTime(runner.registeredAt)) return `"runner.registeredAt" is not a time`;
  if (runner.lastSeenAt !== undefined && !isTime(runner.lastSeenAt)) return `"runner.lastSeenAt" is not a time`;
  if (runner.publicKey !== undefined && typeof runner.publicKey !== "string") return `"runner.publicKey" is not a string`;
  if (runner.encryptionKeys !== undefined && (!Array.isArray(runner.encryptionKeys) || !runner.encryptionKeys.every(isObject))) return `"runner.encryptionKeys" is not a list of keys`;
  return undefined;
}

function jobProblem(job: unknown): string | undefined {
  if (!isObject(job)) return `"job" is not an object`;
  for (const field of ["id", "group", "plugin", "action"] as const) if (!isText(job[field])) return `"job.${field}" is not a non-empty string`;
  if (!(JOB_STATES as readonly unknown[]).includes(job.status)) return `"job.status" is not one of ${JOB_STATES.join(", ")}`;
  if (!isCount(job.attempt)) return `"job.attempt" is not a count`;
  if (!isCount(job.maxAttempts, 1)) return `"job.maxAttempts" is not a count of at least 1`;
  if (!isCount(job.queueSeq)) return `"job.queueSeq" is not a count`;
  if (!isTime(job.submittedAt)) return `"job.submittedAt" is not a time`;
  for (const field of ["leaseExpiresAt", "startedAt", "finishedAt"] as const) if (job[field] !== undefined && !isTime(job[field])) return `"job.${field}" is not a time`;
  for (const field of ["timeoutMs", "releasedLeases", "reportedAttempt"] as const) if (job[field] !== undefined && !isCount(job[field])) return `"job.${field}" is not a count`;
  for (const field of ["runnerId", "lapsedRunnerId"] as const) if (job[field] !== undefined && !isText(job[field])) return `"job.${field}" is not a runner id`;
  if (job.secrets !== undefined && (!Array.isArray(job.secrets) || !job.secrets.every((s) => typeof s === "string"))) return `"job.secrets" is not a list of strings`;
  if (job.error !== undefined && (!isObject(job.error) || typeof job.error.code !== "string" || typeof job.error.message !== "string")) return `"job.error" is not {code, message}`;
  if (job.artifacts !== undefined && (!Array.isArray(job.artifacts) || !job.artifacts.every((a) => isObject(a) && typeof a.name === "string" && isCount(a.size) && typeof a.sha256 === "string"))) return `"job.artifacts" is not a list of artifacts`;
  if (job.approval !== undefined && (!isObject(job.approval) || (job.approval.decision !== "approved" && job.approval.decision !== "rejected") || !isTime(job.approval.at))) return `"job.approval" is not a decision`;
  if (job.callbackResult !== undefined && (!isObject(job.callbackResult) || (job.callbackResult.status !== "succeeded" && job.callbackResult.status !== "failed") || !isTime(job.callbackResult.at))) return `"job.callbackResult" is not a result`;
  return undefined;
}
