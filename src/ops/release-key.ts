// The release public keys this executable trusts for SHA256SUMS.jws. keys/release-public.jwk is
// the published copy; a test keeps it, this list and the PEM embedded in install.sh identical.

import type { JWK } from "jose";

/** Several keys by `kid` so a key rotation ships the new key one release before it is used. */
export const RELEASE_PUBLIC_KEYS: readonly JWK[] = Object.freeze([
  {
    crv: "Ed25519",
    kty: "OKP",
    x: "dPRVY1FN0lTwSrsVVgNhPB4bYd9Pj0vZ5IW6LtgTo2c",
    kid: "release-6gFY-7wPw6ia0nRs",
    alg: "EdDSA",
    use: "sig",
  },
]);
