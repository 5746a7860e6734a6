// The one page-marker check both S3 listings use (objects and unfinished uploads).

import { expect, test } from "bun:test";
import { ListingPages, type PageProblem } from "../../src/storage/listing-pages.ts";

const pages = (max: number): ListingPages => new ListingPages(max, (problem: PageProblem) => new Error(problem));

test("ListingPages.next() ends at a page not truncated and hands back each new marker", () => {
  const walk = pages(3);
  expect(walk.next(true, "a")).toBe("a");
  expect(walk.next(true, "b")).toBe("b");
  expect(walk.next(false, "c")).toBeUndefined();
  expect(pages(3).next(undefined, undefined)).toBeUndefined();
});

test("ListingPages.next() refuses a missing or empty marker, a repeated one, and a page past the cap", () => {
  expect(() => pages(3).next(true, undefined)).toThrow("no_marker");
  expect(() => pages(3).next(true, "")).toThrow("no_marker");
  const repeated = pages(10);
  repeated.next(true, "a");
  expect(() => repeated.next(true, "a")).toThrow("repeated_marker");
  // Three pages may be taken: after the third, asking a fourth is refused.
  const capped = pages(3);
  capped.next(true, "a");
  expect(capped.next(true, "b")).toBe("b");
  expect(() => capped.next(true, "c")).toThrow("too_many_pages");
});
