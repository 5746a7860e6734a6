// The run handle's message bounds with a recording channel (run-handle.ts): the log's last 8,000
// characters in the current step's systemMessage, user messages 2,000, at most 1,000 steps; a cut never leaves half a
// UTF-16 surrogate pair (no UTF-8 form: meshStack would get U+FFFD) or the tail of a mask.

import { expect, test } from "bun:test";
import { RunReport } from "../../src/controller/meshstack/final-status.ts";
import { MeshstackRunHandle, SYSTEM_MESSAGE_MAX, USER_MESSAGE_MAX } from "../../src/controller/meshstack/run-handle.ts";
import type { RunChannel } from "../../src/controller/meshstack/run-channel.ts";
import { MASK, Redactor } from "../../src/log/redact.ts";
import { hasLoneSurrogate } from "../../src/util/well-formed.ts";

type Sent = { kind: string; body: Record<string, unknown>; final: boolean };

/** A handle on a channel that records what would go to meshStack and acknowledges the final update. */
function handleOf() {
  const sent: Sent[] = [];
  let acknowledge: (end: { kind: "acknowledged" }) => void = () => {};
  const ended = new Promise<{ kind: "acknowledged" }>((resolve) => (acknowledge = resolve));
  const channel = {
    ended,
    isEnded: false,
    pendingCount: 0,
    async enqueue(kind: string, body: Record<string, unknown>, options: { final?: boolean } = {}) {
      sent.push({ kind, body, final: options.final === true });
      if (options.final === true) acknowledge({ kind: "acknowledged" });
    },
  } as unknown as RunChannel;
  const report = new RunReport({ runUuid: "run-1", implementationType: "MANUAL", behavior: "APPLY", async: false, mainStep: { id: "manual", displayName: "Manual" }, inputs: [] });
  const handle = new MeshstackRunHandle({
    job: { id: "run-1", attempt: 1, group: "meshstack", plugin: "echo", action: "default", input: {}, leaseExpiresAt: 0, submittedAt: 0 },
    channel,
    report,
    redaction: new Redactor(),
    timers: { now: () => 0, sleep: () => new Promise(() => {}) },
    statusIntervalMs: 60_000,
    logIntervalMs: 60_000,
  });
  return { handle, sent };
}

/** The systemMessage the final status carries for step `id`. */
async function finalSystemMessage(lines: string[]): Promise<string> {
  const { handle, sent } = handleOf();
  handle.log(lines.map((msg) => ({ ts: 0, level: "info" as const, msg })));
  await handle.complete({ status: "succeeded", startedAt: 0, finishedAt: 0 });
  const final = sent.find((s) => s.final);
  const step = (final?.body.steps as Array<Record<string, unknown>>).find((s) => s.id === "manual");
  return String(step?.systemMessage);
}

test("MeshstackRunHandle sends the log's last 8,000 characters in systemMessage, its start cut and marked", async () => {
  const lines = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(3, "0")} ${"x".repeat(40)}`);
  const message = await finalSystemMessage(lines);
  expect(message.length).toBe(SYSTEM_MESSAGE_MAX);
  expect(message.startsWith("…")).toBe(true);
  expect(message.endsWith(lines.at(-1) as string)).toBe(true);
  expect(message).not.toContain("line 000");
  // A log that fits goes whole.
  expect(await finalSystemMessage(["short", "log"])).toBe("short\nlog");
});

test("MeshstackRunHandle never starts the log tail inside a surrogate pair", async () => {
  // "😀" is two UTF-16 units: placed so that the cut falls between them.
  const emoji = "😀".repeat(SYSTEM_MESSAGE_MAX);
  for (const pad of ["", "a"]) {
    const message = await finalSystemMessage([pad + emoji]);
    expect(hasLoneSurrogate(message)).toBe(false);
    expect(message.length).toBeLessThanOrEqual(SYSTEM_MESSAGE_MAX);
    expect(message.length).toBeGreaterThanOrEqual(SYSTEM_MESSAGE_MAX - 1);
  }
});

test("MeshstackRunHandle never starts the log tail inside a mask (no stray \"ACTED]\")", async () => {
  const line = `token ${MASK} `;
  // Every cut position relative to the masks: no message may start with the end of a mask.
  for (let shift = 0; shift < line.length; shift++) {
    const message = await finalSystemMessage(["y".repeat(shift) + line.repeat(Math.ceil(SYSTEM_MESSAGE_MAX / line.length) + 2)]);
    expect(message.length).toBeLessThanOrEqual(SYSTEM_MESSAGE_MAX);
    const start = message.slice(1, 1 + MASK.length);
    for (let k = 1; k < MASK.length; k++) expect(start.startsWith(MASK.slice(k))).toBe(false);
  }
});

test("MeshstackRunHandle cuts a step's user message to 2,000 characters without splitting a surrogate pair", async () => {
  const { handle, sent } = handleOf();
  handle.step({ id: "deploy", status: "running", message: `start ${"m".repeat(3000)}` });
  handle.step({ id: "deploy", status: "running", message: `${"a".repeat(USER_MESSAGE_MAX - 2)}${"😀".repeat(10)}` });
  const messages = sent.map((s) => (s.body.steps as Array<Record<string, unknown>>)[0]?.userMessage as string);
  expect(messages[0]?.length).toBe(USER_MESSAGE_MAX);
  expect(messages[0]?.startsWith("start mmm")).toBe(true);
  expect(messages[0]?.endsWith("…")).toBe(true);
  expect(hasLoneSurrogate(messages[1] as string)).toBe(false);
  expect(messages[1]?.length).toBeLessThanOrEqual(USER_MESSAGE_MAX);
});

test("MeshstackRunHandle reports at most 1,000 steps to meshStack, in the updates as in the final status", async () => {
  const { handle, sent } = handleOf();
  for (let i = 0; i < 1200; i++) handle.step({ id: `step-${i}`, status: "running" });
  // A step already reported is still updated after the limit.
  handle.step({ id: "step-5", status: "succeeded" });
  expect((sent.at(-1)?.body.steps as Array<Record<string, unknown>>)[0]).toMatchObject({ id: "step-5", status: "SUCCEEDED" });
  await handle.complete({ status: "succeeded", startedAt: 0, finishedAt: 0 });
  const ids = new Set(sent.flatMap((s) => (s.body.steps as Array<{ id: string }>).map((step) => step.id)));
  expect(ids.size).toBe(1000);
  expect(ids.has("manual")).toBe(true);
  expect(ids.has("step-998")).toBe(true);
  expect(ids.has("step-999")).toBe(false);
});
