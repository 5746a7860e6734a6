// `doctor` with a list of controller URLs: each replica is probed; one down warns (the runner
// works through the others), all down fails, with the first failure's layer and fix.

import { afterEach, expect, test } from "bun:test";
import { controllerReachableCheck } from "../../src/ops/doctor/checks/controller-reachable.ts";
import type { DoctorContext } from "../../src/ops/doctor/check.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { freePort } from "../helpers/processes.ts";

let server: ReturnType<typeof Bun.serve> | undefined;
afterEach(() => {
  server?.stop(true);
  server = undefined;
});

function ctx(urls: string[]): DoctorContext {
  const { config } = resolveConfig({ scopes: ["runner"], argv: ["--controller-url", urls.join(",")], env: {} });
  return { argv: [], env: {}, readFile: () => "", uid: undefined, timeoutMs: 2000, state: { config } };
}

test("controllerReachableCheck probes every controller URL: all up passes, one down warns, all down fails", async () => {
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("edge-runner") });
  const up = `http://127.0.0.1:${server.port}`;
  const down = `http://127.0.0.1:${await freePort()}`;
  const all = await controllerReachableCheck.run(ctx([up]));
  expect(all.status).toBe("pass");
  const one = await controllerReachableCheck.run(ctx([up, down]));
  expect(one.status).toBe("warn");
  expect(one.summary).toStartWith(`1 of 2 controller URLs answered; ${down}: TCP: cannot connect`);
  expect(one.fix).toContain("nothing listens there");
  expect(one.notes).toHaveLength(2);
  const none = await controllerReachableCheck.run(ctx([down, `http://127.0.0.1:${await freePort()}`]));
  expect(none.status).toBe("fail");
  expect(none.summary).toStartWith("0 of 2 controller URLs answered");
});
