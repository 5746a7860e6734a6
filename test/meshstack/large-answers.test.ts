// meshStack accepts a status update (2xx) with an answer over 64 KiB (a HAL answer that echoes the
// run, say): the update is acknowledged, not resent for ever, and the final status goes out.

import { afterEach, expect, test } from "bun:test";
import { RUN_MEDIA_TYPE } from "../../src/controller/meshstack/api-client.ts";
import { runDoc, sleepInput, startScripted, until } from "./scripted-meshstack.ts";

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

test("MeshstackConnection: status updates answered 200 with a body over 64 KiB are acknowledged once each and the final status goes out", async () => {
  const big = JSON.stringify({ runAborted: false, _embedded: { padding: "x".repeat(70 * 1024) } });
  const h = await startScripted({
    claims: [() => Response.json(runDoc("r-big", { inputs: [sleepInput(600)] }), { status: 201 })],
    patch: () => new Response(big, { status: 200, headers: { "content-type": RUN_MEDIA_TYPE } }),
    register: () => new Response(big, { status: 201, headers: { "content-type": RUN_MEDIA_TYPE } }),
  }, { plugins: { MANUAL: { plugin: "echo", action: "sleep" } }, statusIntervalMs: 200 });
  stop = h.stop;
  const final = await until(() => h.calls.find((c) => c.method === "PATCH" && c.body?.includes('"SUCCEEDED"')), 6000);
  expect(final).toBeDefined();
  expect(h.calls.filter((c) => c.method === "POST" && c.url.endsWith("/status/source")).length).toBe(1);
  expect(h.records.filter((r) => r.level === "warn" || r.level === "error").map((r) => r.msg)).toEqual([]);
  expect(await until(() => h.connection.details().recent[0]?.status, 3000)).toBe("SUCCEEDED");
}, 20_000);
