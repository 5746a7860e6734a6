// An ObjectStore that hands every call to another one but for the methods a test replaces (a
// listing that fails past a cap, a deletion that fails while the backend is "down"), so such a test
// states only what differs from the real store.

import type { ObjectStore } from "../../src/storage/object-store.ts";

/**
 * `inner`'s required methods, with `overrides` in their place. The optional ones (leftovers,
 * abortStaleUploads) are there only when given in `overrides`: whether a store has them changes
 * what the sweeper does, so a test says so.
 */
export function forwardingStore(inner: ObjectStore, overrides: Partial<ObjectStore> = {}): ObjectStore {
  return {
    kind: inner.kind,
    location: inner.location,
    put: (key, body, options) => inner.put(key, body, options),
    get: (key, signal) => inner.get(key, signal),
    head: (key) => inner.head(key),
    list: (prefix, options) => inner.list(prefix, options),
    children: (prefix, options) => inner.children(prefix, options),
    delete: (key) => inner.delete(key),
    deletePrefix: (prefix, options) => inner.deletePrefix(prefix, options),
    close: () => inner.close(),
    ...overrides,
  };
}
