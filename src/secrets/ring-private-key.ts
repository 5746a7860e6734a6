// A ring key's private KeyObject, made with node:crypto the first time something decrypts or
// signs with it (jose, meshStack's inputs, `keys cert`), not when the ring is loaded: a runner's
// start-up does not load node:crypto (docs/performance.md, start-up).

import { createPrivateKey, type KeyObject } from "node:crypto";
import type { RingKey } from "./key-ring.ts";

const made = new WeakMap<RingKey, KeyObject>();

export function privateKeyOf(key: RingKey): KeyObject {
  let privateKey = made.get(key);
  if (privateKey === undefined) {
    privateKey = createPrivateKey(key.pem);
    made.set(key, privateKey);
  }
  return privateKey;
}
