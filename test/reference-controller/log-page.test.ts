// logPageLength(): where a job's log page ends, for both stores.
import { expect, test } from "bun:test";
import { logPageLength } from "../../src/reference-controller/log-page.ts";
import { MAX_LOG_PAGE_BYTES } from "../../src/reference-controller/store-file-bounds.ts";

test("logPageLength() takes events up to the byte budget, ending before the one that would pass it", () => {
  expect(logPageLength([4, 4, 4, 4], 10)).toBe(2);
  expect(logPageLength([5, 5, 1], 10)).toBe(2);
  expect(logPageLength([3, 3], 10)).toBe(2);
  expect(logPageLength([], 10)).toBe(0);
});

test("logPageLength() never ends a page before its first event, however large", () => {
  expect(logPageLength([11, 1], 10)).toBe(1);
  expect(logPageLength([MAX_LOG_PAGE_BYTES + 1])).toBe(1);
  expect(logPageLength([MAX_LOG_PAGE_BYTES, 1])).toBe(1);
});
