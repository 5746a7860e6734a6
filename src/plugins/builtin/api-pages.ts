// Reading a list the API hands out in pages (GitHub's and GitLab's jobs of a run, 100 a page):
// follows the next page (a Link header's rel="next", or GitLab's X-Next-Page) up to a bound, so a
// pipeline with more than 100 jobs shows them all as steps and a huge one costs a known number of
// calls per poll. A next link to another origin is not followed: the credentials go with it.

import type { ApiCall, ApiClient } from "./api-client.ts";

/** Pages read per list at most (each is one call on every poll). */
export const MAX_PAGES = 3;

export interface Pages<T> {
  items: T[];
  /** The API has more past the last page read. */
  more: boolean;
}

/** Reads `call`'s list and its next pages; `items` picks the list out of one page's body. */
export async function readPages<T>(api: ApiClient, call: ApiCall, items: (body: unknown) => T[], maxPages = MAX_PAGES): Promise<Pages<T>> {
  const all: T[] = [];
  let url: string | undefined = call.url;
  for (let page = 1; url !== undefined; page++) {
    const answer = await api.request({ ...call, url });
    all.push(...items(answer.body));
    const next = nextPage(url, answer.headers);
    if (next !== undefined && page >= maxPages) return { items: all, more: true };
    url = next;
  }
  return { items: all, more: false };
}

/** The next page's URL, or undefined on the last page. */
export function nextPage(current: string, headers: Headers): string | undefined {
  const base = new URL(current);
  for (const part of (headers.get("link") ?? "").split(",")) {
    const match = /^\s*<([^>]*)>\s*;(?:.*;)?\s*rel="?next"?\s*(?:;.*)?$/i.exec(part);
    if (match === null) continue;
    try {
      const next = new URL(match[1] as string, base);
      return next.origin === base.origin ? next.toString() : undefined;
    } catch {
      return undefined;
    }
  }
  const page = (headers.get("x-next-page") ?? "").trim();
  if (!/^[1-9][0-9]{0,8}$/.test(page)) return undefined;
  base.searchParams.set("page", page);
  return base.toString();
}
