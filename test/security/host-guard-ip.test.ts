// The status page's and controller's Host check treats IP literals as its own origin
// (src/platform/host-guard.ts). It recognises them without node:net (which cost every runner
// start ~6 ms); this keeps it answering as node:net's isIP() does, zone ids aside.

import { expect, test } from "bun:test";
import { isIP } from "node:net";
import { isAllowedHost, isIpLiteral } from "../../src/platform/host-guard.ts";

const CASES = [
  "127.0.0.1", "0.0.0.0", "255.255.255.255", "10.1.2.3", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1.2.3.4 ",
  "0x7f.0.0.1", "127.1", "::1", "::", "fe80::1", "2001:db8::8a2e:370:7334", "::ffff:127.0.0.1", "2001:db8:0:0:0:0:2:1",
  "1::2::3", "2001:db8:::1", "12345::1", "g::1", ":", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "::1.2.3.4.5", "::256.1.1.1",
  "localhost", "example.com", "", "[::1]", "::1]/x", "1.2.3.4/8",
];

test("isIpLiteral() agrees with node:net's isIP() on IPv4 and IPv6 literals and non-literals", () => {
  for (const name of CASES) expect({ name, literal: isIpLiteral(name) }).toEqual({ name, literal: isIP(name) !== 0 });
});

test("the Host check still answers IP literals and refuses unknown names", () => {
  const none = new Set<string>();
  expect(["127.0.0.1:8787", "[::1]:8787", "10.0.0.7", "[fe80::1]", "localhost:8787"].map((h) => isAllowedHost(h, none))).toEqual([true, true, true, true, true]);
  expect(["evil.example:8787", "127.0.0.1.evil.example", "0x7f.0.0.1", "1.2.3"].map((h) => isAllowedHost(h, none))).toEqual([false, false, false, false]);
});
