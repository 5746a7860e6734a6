// A final status answered 409: meshStack had already ended the run (timed it out, say). When no
// earlier attempt of that final status could have reached meshStack, meshStack did not take it:
// the runner says so (a warning, the result not recorded) and the status page shows ALREADY_ENDED,
// not the status meshStack never took. After an attempt whose outcome is unknown it may have been
// taken (the 409 answers the resend): shown as decided, as before.

import { afterEach, expect, test } from "bun:test";
import { runDoc, startScripted, until } from "./scripted-meshstack.ts";

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

const isFinal = (body: string | undefined) => body?.includes('"SUCCEEDED"') === true;

test("MeshstackConnection: a final status answered 409 on its first attempt is shown ALREADY_ENDED with a warning, not SUCCEEDED", async () => {
  const h = await startScripted({
    claims: [() => Response.json(runDoc("r-409"), { status: 201 })],
    patch: (call) => (isFinal(call.body) ? Response.json({ message: "Run is FAILED" }, { status: 409 }) : Response.json({ runAborted: false })),
  });
  stop = h.stop;
  const recent = await until(() => h.connection.details().recent[0], 5000);
  expect(h.calls.filter((c) => c.method === "PATCH" && isFinal(c.body)).length).toBe(1);
  expect(recent?.status).toBe("ALREADY_ENDED");
  expect(recent?.message).toContain("SUCCEEDED");
  const warned = await until(() => h.records.filter((r) => r.level === "warn").map((r) => r.msg).join("\n") || undefined, 3000);
  expect(warned).toContain('"r-409"');
  expect(warned).toContain("Result of job not recorded by the controller: meshStack had already ended the run");
}, 20_000);

test("MeshstackConnection: a final status answered 409 after an attempt with an unknown outcome (a 503) is shown as decided: meshStack may have taken it", async () => {
  let finals = 0;
  const h = await startScripted({
    claims: [() => Response.json(runDoc("r-maybe"), { status: 201 })],
    patch: (call) => (isFinal(call.body) ? (++finals === 1 ? new Response("busy", { status: 503 }) : Response.json({}, { status: 409 })) : Response.json({ runAborted: false })),
  });
  stop = h.stop;
  const recent = await until(() => h.connection.details().recent[0], 5000);
  expect(finals).toBe(2);
  expect(recent?.status).toBe("SUCCEEDED");
  expect(h.records.some((r) => r.msg.includes("Result of job not recorded"))).toBe(false);
}, 20_000);

test("MeshstackConnection: a status update answered 409 while the run runs (meshStack ended it) shows ALREADY_ENDED", async () => {
  const h = await startScripted({
    claims: [() => Response.json(runDoc("r-ended", { inputs: [{ key: "ms", value: 3000, type: "INTEGER", isSensitive: false, isEnvironment: false }] }), { status: 201 })],
    patch: () => Response.json({}, { status: 409 }),
  }, { plugins: { MANUAL: { plugin: "echo", action: "sleep" } }, statusIntervalMs: 100 });
  stop = h.stop;
  const recent = await until(() => h.connection.details().recent[0], 5000);
  expect(recent?.status).toBe("ALREADY_ENDED");
}, 20_000);
