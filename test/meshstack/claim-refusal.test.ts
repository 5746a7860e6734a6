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
import type { ClaimRecord } from "./fake-meshstack.ts";

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

test("MeshstackConnection: a claim refused with 401 (the login token expired) logs in once more and claims again at once, without an error line", async () => {
  // Polls 800-1,200 ms apart: a claim sooner than that after the 401 is the client's own second try.
  const s = await startAdapter({ pollIntervalMs: 1000, logLevel: "debug" });
  await eventually(() => (s.fake.claims.length >= 1 ? true : undefined), 10_000, "first claim");
  s.fake.expireTokens();
  const uuid = s.fake.addRun({ type: "MANUAL" });
  expect((await eventually(ended(s.fake, uuid), 10_000, "run ended")).status).toBe("SUCCEEDED");
  const refused = s.fake.claims.findIndex((c) => c.status === 401);
  expect(refused).toBeGreaterThan(0);
  const [first, again] = [s.fake.claims[refused], s.fake.claims[refused + 1]] as [ClaimRecord, ClaimRecord];
  // The claim after the 401 comes with a fresh login, at once (not a poll interval later), and takes the run.
  expect(again).toMatchObject({ status: 200, logins: first.logins + 1 });
  expect(again.at - first.at).toBeLessThan(800);
  expect(s.fake.logins).toBe(2);
  expect(s.fake.claims.filter((c) => c.status === 401)).toHaveLength(1);
  expect(s.logs.filter((r) => (r.level === "error" || r.level === "warn") && /claim/i.test(r.msg))).toEqual([]);
  expect(s.connection.status().state).toBe("connected");
}, 30_000);

test("MeshstackConnection: a claim refused with 401 again after the fresh login is one error line, the state unauthorized and the longest backoff between tries", async () => {
  const s = await startAdapter({ pollIntervalMs: 20, logLevel: "debug" });
  s.fake.claimRefusal = { status: 401, message: "Unauthorized: this API key may not claim runs" };
  await eventually(() => (s.fake.claims.filter((c) => c.status === 401).length >= 8 ? true : undefined), 10_000, "four tries refused twice");
  s.fake.claimRefusal = undefined;
  const refused = s.fake.claims.filter((c) => c.status === 401).slice(0, 8);
  // Each try: a claim, a fresh login, the claim once more, both refused.
  const tries = refused.filter((_, i) => i % 2 === 0);
  for (let i = 0; i < refused.length; i += 2) {
    const [first, again] = [refused[i], refused[i + 1]] as [ClaimRecord, ClaimRecord];
    expect(again.logins).toBe(first.logins + 1);
  }
  for (const gap of gaps(tries, 401)) expect(gap).toBeGreaterThanOrEqual(LONGEST_MS - 5);
  expect(s.connection.status()).toMatchObject({ state: "unauthorized", lastError: expect.stringContaining("HTTP 401 (check the runner's credentials and runnerId): Unauthorized: this API key may not claim runs") });
  const refusedLines = s.logs.filter((r) => r.msg.includes("HTTP 401") && r.level !== "debug");
  expect(refusedLines.map((r) => r.level)).toEqual(["error"]);
  expect(refusedLines[0]?.msg).toContain("meshStack refuses this runner's claims: Cannot claim a run from meshStack: HTTP 401");

  // Taken again: said once, and runs go on.
  const uuid = s.fake.addRun({ type: "MANUAL" });
  expect((await eventually(ended(s.fake, uuid), 10_000, "run ended")).status).toBe("SUCCEEDED");
  expect(s.connection.status().state).toBe("connected");
  expect(s.logs.filter((r) => r.msg.startsWith("meshStack takes this runner's claims again, after ")).map((r) => r.level)).toEqual(["info"]);
}, 30_000);
