// The one table that decides how a controller connection treats a failure, and the two
// functions that turn what a transport sees into the codes it decides by.

import { expect, test } from "bun:test";
import { codeForClose, codeForStatus, failureHandling, failureOf } from "../../src/controller/failure.ts";
import { EdgeError } from "../../src/errors.ts";

test("failureHandling() waits at the ceiling for refused credentials and retries everything else", () => {
  expect(failureHandling("unauthorized")).toBe("unauthorized");
  expect(failureHandling("forbidden")).toBe("unauthorized");
  for (const code of ["connection_failed", "protocol_error", "internal", "something_new"]) expect(failureHandling(code)).toBe("retry");
});

test("codeForStatus() and codeForClose() map 401/403 and 4401/4403 and nothing else to credential codes", () => {
  expect([401, 403, 426, 429, 500, 503, 0].map(codeForStatus)).toEqual(["unauthorized", "forbidden", "connection_failed", "connection_failed", "connection_failed", "connection_failed", "connection_failed"]);
  expect([4401, 4403, 1000, 1006, 1011, 4400].map(codeForClose)).toEqual(["unauthorized", "forbidden", "connection_failed", "connection_failed", "connection_failed", "connection_failed"]);
});

test("failureOf() keeps an EdgeError's code and Retry-After, and treats anything else as a connection failure", () => {
  expect(failureOf(new EdgeError("forbidden", "Cannot create session: no", { retryAfterMs: 5000 }))).toEqual({ code: "forbidden", reason: "Cannot create session: no", retryAfterMs: 5000 });
  expect(failureOf(new TypeError("fetch failed"))).toEqual({ code: "connection_failed", reason: "fetch failed" });
  expect(failureOf("odd")).toEqual({ code: "connection_failed", reason: "odd" });
});
