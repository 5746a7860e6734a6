// POST /edge/v1/check: credentials are checked like session creation, but no session is made.
import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

async function check(body: unknown, apiKey: string) {
  const res = await h.controller.app.request("/edge/v1/check", {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

forEachStore("edge credential check", (store) => {
  test("POST /edge/v1/check accepts good credentials without creating a session, listing the session features (for doctor)", async () => {
    h = await openController(store);
    const { apiKey } = await h.controller.registerRunner({ id: "r1", group: "g1" });
    await h.settle();
    expect(await check({ v: 1, runnerId: "r1", group: "g1" }, apiKey)).toEqual({ status: 200, body: { v: 1, runnerId: "r1", group: "g1", features: ["release"] } });
    expect([...h.controller.core.sessions.all()]).toHaveLength(0);
  });

  test("POST /edge/v1/check answers 401 for a wrong key or unknown runner and 403 for the wrong group", async () => {
    h = await openController(store);
    const { apiKey } = await h.controller.registerRunner({ id: "r1", group: "g1" });
    await h.settle();
    expect((await check({ v: 1, runnerId: "r1", group: "g1" }, "wrong")).status).toBe(401);
    expect((await check({ v: 1, runnerId: "nobody", group: "g1" }, apiKey)).status).toBe(401);
    expect((await check({ v: 1, runnerId: "r1", group: "other" }, apiKey)).status).toBe(403);
    expect((await check({ v: 1, group: "g1" }, apiKey)).status).toBe(400);
  });
});
