// The release public key lives in three places; they must be the same key.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exportSPKI, importJWK } from "jose";
import { RELEASE_PUBLIC_KEYS } from "../../src/ops/release-key.ts";
import { ROOT } from "./release-fixture.ts";

test("RELEASE_PUBLIC_KEYS equals keys/release-public.jwk and the PEM embedded in install.sh", async () => {
  const published = JSON.parse(readFileSync(join(ROOT, "keys/release-public.jwk"), "utf8"));
  expect(published.d).toBeUndefined();
  expect(RELEASE_PUBLIC_KEYS).toEqual([published]);
  const pem = await exportSPKI((await importJWK(published, "EdDSA", { extractable: true })) as CryptoKey);
  const embedded = /RELEASE_PUBLIC_KEY_PEM='([^']+)'/.exec(readFileSync(join(ROOT, "install.sh"), "utf8"))?.[1];
  expect(embedded?.trim()).toBe(pem.trim());
});
