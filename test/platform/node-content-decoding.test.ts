// Which decoders an answer's Content-Encoding gets on the Node proxy path
// (src/platform/node-content-decoding.ts); the decoding itself is held to Node's fetch in
// outbound-fetch-as-fetch.test.ts.

import { describe, expect, test } from "bun:test";
import { contentDecoders } from "../../src/platform/node-content-decoding.ts";

describe("contentDecoders()", () => {
  test("contentDecoders() makes one decoder per listed coding, none for an unknown one, and refuses more than five", () => {
    expect(contentDecoders(undefined)).toHaveLength(0);
    expect(contentDecoders("identity")).toHaveLength(0);
    expect(contentDecoders("GZIP, br")).toHaveLength(2);
    expect(contentDecoders("gzip, zz, br")).toHaveLength(0);
    expect(contentDecoders(Array(5).fill("gzip").join(","))).toHaveLength(5);
    expect(() => contentDecoders(Array(6).fill("gzip").join(","))).toThrow("too many content-encodings in response: 6, maximum allowed is 5");
  });
});
