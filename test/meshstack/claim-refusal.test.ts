// A claim meshStack refuses with a 4xx (there is no run yet): bad credentials (401/403) or a
// claim it will not take (400 and the like). Another claim in a moment gets the same answer, so
// the runner waits its longest backoff between claims, says why in one error line (meshStack's
// message masked) instead of one per poll, shows it on the status page, and says once when
// meshStack takes its claims again.

import { afterEach, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { redactor } from "../../src/log/redact.ts";
import { eventually } from "../helpers/harness.ts";
import { cleanUp, ended, runnerKeys, startAdapter, startFake } from "./adapter-bed.ts";

beforeAll(() => void runnerKeys());
afterEach(cleanUp);

/** The adapter bed's retryMaxMs: the longest backoff. */
const LONGEST_MS = 200;

/** Gaps between the claims answered `status`, in ms. */
const gaps = (claims: Array<{ at: number; status: number }>, status: number) =>
  claims.filter((c) => c.status === status).map((c, i, all) => (i === 0 ? Infinity : c.at - (all[i - 1] as { at: number }).at)).slice(1);

test("MeshstackConnection: a claim refused with 403 (bad credentials) is one error line naming the cause, the state unauthorized and the longest backoff; a claim taken again is said once", async () => {
  const s = await startAdapter({ pollIntervalMs: 20, logLevel: "debug" });
  s.fake.claimRefusal = { status: 403, message: "Forbidden" };
  await eventually(() => (s.fake.claims.filter((c) => c.status === 403).length >= 4 ? true : undefined), 10_000, "four refused claims");
  expect(s.connection.status()).toMatchObject({ state: "unauthorized", lastError: expect.stringContaining("HTTP 403 (check the runner's credentials and runnerId)") });
  expect(s.connection.details().lastClaimError?.message).toContain("HTTP 403");
  for (const gap of gaps(s.fake.claims, 403)) expect(gap).toBeGreaterThanOrEqual(LONGEST_MS - 5);
  const refusedLines = s.logs.filter((r) => r.msg.includes("HTTP 403") && r.level !== "debug");
  expect(refusedLines.map((r) => r.level)).toEqual(["error"]);
  expect(refusedLines[0]?.msg).toContain("meshStack refuses this runner's claims: Cannot claim a run from meshStack: HTTP 403 (check the runner's credentials and runnerId): Forbidden");

  // Fixed in meshStack: the next claim is taken, said once, and runs go on.
  s.fake.claimRefusal = undefined;
  const uuid = s.fake.addRun({ type: "MANUAL" });
  expect((await eventually(ended(s.fake, uuid), 10_000, "run ended")).status).toBe("SUCCEEDED");
  expect(s.connection.status().state).toBe("connected");
  expect(s.logs.filter((r) => r.msg.startsWith("meshStack takes this runner's claims again, after ")).map((r) => r.level)).toEqual(["info"]);
}, 30_000);

test("MeshstackConnection: a claim refused with 400 logs meshStack's message once, masked, and waits the longest backoff, not the poll interval", async () => {
  const scope = redactor.child("claim-refusal test");
  const secret = `cnry-claim-${randomBytes(6).toString("hex")}`;
  scope.add(secret);
  try {
    const s = await startAdapter({ pollIntervalMs: 20, logLevel: "debug" });
    s.fake.claimRefusal = { status: 400, message: `Invalid request: forRunnerUuid ${secret} is malformed` };
    await eventually(() => (s.fake.claims.filter((c) => c.status === 400).length >= 4 ? true : undefined), 10_000, "four refused claims");
    for (const gap of gaps(s.fake.claims, 400)) expect(gap).toBeGreaterThanOrEqual(LONGEST_MS - 5);
    const refusedLines = s.logs.filter((r) => r.msg.includes("HTTP 400") && r.level !== "debug");
    expect(refusedLines.map((r) => r.level)).toEqual(["error"]);
    expect(refusedLines[0]?.msg).toContain("HTTP 400: Invalid request: forRunnerUuid [REDACTED] is malformed");
    expect(s.connection.status()).toMatchObject({ state: "backoff", lastError: expect.stringContaining("forRunnerUuid [REDACTED] is malformed") });
    expect(s.connection.details().lastClaimError?.message).toContain("[REDACTED]");
    expect(JSON.stringify(s.logs)).not.toContain(secret);
    expect(JSON.stringify(s.connection.details())).not.toContain(secret);
    s.fake.claimRefusal = undefined;
  } finally {
    scope.dispose();
  }
}, 30_000);

test("MeshstackConnection: meshStack's login token (and its refresh token) echoed in a refused claim's error body is masked in the runner's log and on the status page", async () => {
  const fake = await startFake();
  fake.refreshTokens = true;
  const s = await startAdapter({ fake, pollIntervalMs: 20, logLevel: "debug" });
  s.fake.claimRefusal = { status: 403, message: (token) => `Token ${token} (refresh ${s.fake.issuedTokens.at(-1) ?? ""}) may not claim runs of this runner` };
  await eventually(() => (s.fake.claims.filter((c) => c.status === 403).length >= 2 ? true : undefined), 10_000, "refused claims");
  const refusedLines = s.logs.filter((r) => r.msg.includes("HTTP 403") && r.level !== "debug");
  expect(refusedLines.map((r) => r.level)).toEqual(["error"]);
  expect(refusedLines[0]?.msg).toContain("Token [REDACTED] (refresh [REDACTED]) may not claim runs");
  expect(s.fake.issuedTokens).toHaveLength(2);
  for (const token of s.fake.issuedTokens) {
    expect(JSON.stringify(s.logs)).not.toContain(token);
    expect(JSON.stringify(s.connection.details())).not.toContain(token);
    expect(JSON.stringify(s.connection.status())).not.toContain(token);
  }
  s.fake.claimRefusal = undefined;
}, 30_000);
