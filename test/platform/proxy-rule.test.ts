// The one rule for "which proxy for this URL" (src/platform/proxy.ts): the variables by scheme,
// the lower-case form winning, NO_PROXY's entries, and credentials kept out of what is shown.

import { describe, expect, test } from "bun:test";
import { checkProxyEnv, maskProxyCredentials, proxyConfigured, proxyFor, proxySecrets, viaProxy } from "../../src/platform/proxy.ts";
import { ConfigError } from "../../src/config/resolve.ts";

const P = "http://proxy.corp:3128";

describe("proxyFor()", () => {
  test("proxyFor() picks HTTPS_PROXY for https: and wss:, HTTP_PROXY for http: and ws:", () => {
    const env = { HTTPS_PROXY: "http://tls-proxy:3128", HTTP_PROXY: "http://plain-proxy:8080" };
    expect(proxyFor("https://ctl.example/x", env)?.shown).toBe("http://tls-proxy:3128");
    expect(proxyFor("wss://ctl.example/x", env)?.shown).toBe("http://tls-proxy:3128");
    expect(proxyFor("http://ctl.example/x", env)?.shown).toBe("http://plain-proxy:8080");
    expect(proxyFor("ws://ctl.example/x", env)?.shown).toBe("http://plain-proxy:8080");
    expect(proxyFor("https://ctl.example/x", { HTTP_PROXY: P })).toBeUndefined();
    expect(proxyFor("https://ctl.example/x", {})).toBeUndefined();
  });

  test("proxyFor() lets the lower-case variable win, as curl does, and skips an empty one", () => {
    expect(proxyFor("https://a.example", { https_proxy: "http://lower:1", HTTPS_PROXY: "http://upper:2" })?.variable).toBe("https_proxy");
    expect(proxyFor("https://a.example", { https_proxy: "", HTTPS_PROXY: "http://upper:2" })?.shown).toBe("http://upper:2");
    expect(proxyFor("http://a.example", { http_proxy: "http://lower:1", HTTP_PROXY: "http://upper:2" })?.shown).toBe("http://lower:1");
  });

  test("proxyFor() takes host:port as an http:// proxy and port 80 by default", () => {
    expect(proxyFor("https://a.example", { HTTPS_PROXY: "proxy.corp:3128" })).toMatchObject({ hostname: "proxy.corp", port: 3128, shown: "http://proxy.corp:3128" });
    expect(proxyFor("https://a.example", { HTTPS_PROXY: "http://proxy.corp" })?.port).toBe(80);
  });

  test("proxyFor() honours NO_PROXY: suffixes, leading dot, *., port, IPs, CIDR, IPv6 and *", () => {
    const via = (url: string, noProxy: string) => proxyFor(url, { HTTPS_PROXY: P, HTTP_PROXY: P, NO_PROXY: noProxy }) !== undefined;
    expect(via("https://vault.corp.example", "corp.example")).toBe(false);
    expect(via("https://corp.example", "corp.example")).toBe(false);
    expect(via("https://notcorp.example", "corp.example")).toBe(true);
    expect(via("https://vault.corp.example", ".corp.example")).toBe(false);
    expect(via("https://corp.example", ".corp.example")).toBe(false);
    expect(via("https://vault.corp.example", "*.corp.example")).toBe(false);
    expect(via("https://VAULT.Corp.Example.", "corp.example")).toBe(false);
    expect(via("https://vault.corp.example:8200", "vault.corp.example:8200")).toBe(false);
    expect(via("https://vault.corp.example", "vault.corp.example:8200")).toBe(true);
    expect(via("https://vault.corp.example", "vault.corp.example:443")).toBe(false);
    expect(via("https://10.1.2.3:8200", "10.1.2.3")).toBe(false);
    expect(via("https://10.1.2.4:8200", "10.1.2.3")).toBe(true);
    expect(via("https://10.1.2.4", "10.0.0.0/8")).toBe(false);
    expect(via("https://11.1.2.4", "10.0.0.0/8")).toBe(true);
    expect(via("http://[::1]:8080", "::1")).toBe(false);
    expect(via("http://[fd00::5]:8080", "[fd00::5]:8080")).toBe(false);
    expect(via("http://[fd12::5]", "fd00::/8")).toBe(false);
    expect(via("https://10.255.255.255", "10.0.0.0/8")).toBe(false);
    expect(via("https://192.168.1.77", "192.168.1.64/26")).toBe(false);
    expect(via("https://192.168.1.128", "192.168.1.64/26")).toBe(true);
    expect(via("https://1.2.3.4", "0.0.0.0/0")).toBe(false);
    expect(via("https://1.2.3.4", "1.2.3.4/32")).toBe(false);
    expect(via("https://1.2.3.5", "1.2.3.4/32")).toBe(true);
    expect(via("https://1.2.3.5", "1.2.3.4/33")).toBe(true);
    expect(via("http://[2001:db8:0:1::7]", "2001:db8::/32")).toBe(false);
    expect(via("http://[2001:db9::7]", "2001:db8::/32")).toBe(true);
    expect(via("http://[::ffff:10.0.0.1]", "::ffff:0:0/96")).toBe(false);
    expect(via("https://10.1.2.3", "fd00::/8")).toBe(true);
    expect(via("https://anything.example", "*")).toBe(false);
    expect(via("https://a.example", "b.example, a.example")).toBe(false);
    expect(via("https://a.example", "b.example c.example")).toBe(true);
    // No implicit entry: loopback goes through the proxy unless listed.
    expect(via("http://127.0.0.1:8080", "")).toBe(true);
  });

  test("proxyFor() lets no_proxy win over NO_PROXY", () => {
    expect(proxyFor("https://a.example", { HTTPS_PROXY: P, no_proxy: "b.example", NO_PROXY: "a.example" })).toBeDefined();
    expect(proxyFor("https://a.example", { HTTPS_PROXY: P, no_proxy: "a.example", NO_PROXY: "b.example" })).toBeUndefined();
  });

  test("proxyFor() carries the credentials for Proxy-Authorization and shows the proxy without them", () => {
    const route = proxyFor("https://a.example", { HTTPS_PROXY: "http://alice:p%40ss-w0rd@proxy.corp:3128" });
    expect(route?.authorization).toBe(`Basic ${Buffer.from("alice:p@ss-w0rd").toString("base64")}`);
    expect(route?.shown).toBe("http://proxy.corp:3128");
    expect(viaProxy(route)).toBe(' (through proxy "http://proxy.corp:3128" from HTTPS_PROXY)');
    const message = maskProxyCredentials(`failed: ${route?.href} said no to alice:p@ss-w0rd (p%40ss-w0rd)`, route);
    expect(message).not.toContain("p@ss-w0rd");
    expect(message).not.toContain("p%40ss-w0rd");
    expect(message).toContain("http://proxy.corp:3128");
  });
});

describe("NO_PROXY entries that must not widen (review of the first version)", () => {
  test("a CIDR entry without digits after its slash matches nothing, not every address", () => {
    const env = { HTTPS_PROXY: P, NO_PROXY: "10.0.0.0/,fd00::/,10.1.0.0/0x10,10.2.0.0/1e1" };
    for (const host of ["8.8.8.8", "10.0.0.1", "[2001:db8::1]", "[fd00::1]", "10.1.2.3", "10.2.3.4"]) expect(proxyFor(`https://${host}/`, env)).toBeDefined();
    expect(proxyFor("https://10.9.9.9/", { HTTPS_PROXY: P, NO_PROXY: "10.0.0.0/8" })).toBeUndefined();
  });

  test("a list longer than 16,384 characters is refused at start, and read later only up to its last whole entry", () => {
    const entry = "10.0.0.0/16";
    for (const keep of [9, 10]) {
      // The cut at 16,384 characters falls inside the entry: "10.0.0.0/" or "10.0.0.0/1".
      const list = `${"a".repeat(16_384 - keep - 1)},${entry},other.example`;
      expect(proxyFor("https://8.8.8.8/", { HTTPS_PROXY: P, NO_PROXY: list })).toBeDefined();
      expect(proxyFor("https://99.1.2.3/", { HTTPS_PROXY: P, NO_PROXY: list })).toBeDefined();
      expect(() => checkProxyEnv({ NO_PROXY: list })).toThrow(`Cannot use NO_PROXY: it is ${list.length} characters (at most 16384)`);
    }
    const spaced = `${"b".repeat(16_380)} corp.example.com`;
    expect(proxyFor("https://api.corp/", { HTTPS_PROXY: P, no_proxy: spaced })).toBeDefined();
    expect(() => checkProxyEnv({ no_proxy: "10.0.0.0/8 ".repeat(100) })).not.toThrow();
  });
});

describe("checkProxyEnv()", () => {
  test("checkProxyEnv() refuses a proxy that is not http:// or not a URL, naming the variable and not the password", () => {
    const refusal = (env: Record<string, string>) => {
      try {
        checkProxyEnv(env);
        return undefined;
      } catch (error) {
        return error as ConfigError;
      }
    };
    const socks = refusal({ HTTPS_PROXY: "socks5://bob:hunter22@proxy.corp:1080" });
    expect(socks).toBeInstanceOf(ConfigError);
    expect(socks?.field).toBe("HTTPS_PROXY");
    expect(socks?.message).toContain("only an http:// forward proxy");
    expect(socks?.message).not.toContain("hunter22");
    expect(refusal({ http_proxy: "http://[bad" })?.field).toBe("http_proxy");
    expect(refusal({ HTTPS_PROXY: `http://${"a".repeat(3000)}` })?.message).toContain("at most 2048");
    expect(refusal({ HTTPS_PROXY: P, HTTP_PROXY: "", NO_PROXY: "whatever" })).toBeUndefined();
  });
});

describe("proxySecrets()", () => {
  test("proxySecrets() lists the password and user:password of every proxy variable, decoded", () => {
    expect(proxySecrets({ HTTPS_PROXY: "http://alice:p%40ss-w0rd@proxy:3128", http_proxy: "http://proxy:8080", HTTP_PROXY: "http://bob:hunter22@p2:1" }))
      .toEqual(["p@ss-w0rd", "alice:p@ss-w0rd", "hunter22", "bob:hunter22"]);
    expect(proxySecrets({})).toEqual([]);
  });
});

describe("proxyConfigured()", () => {
  test("proxyConfigured() is true while a proxy variable is set, whatever hosts NO_PROXY names, and false for NO_PROXY `*`", () => {
    for (const noProxy of ["", ".invalid", "invalid", "*.invalid", "edge-runner.invalid", "localhost,.corp"]) {
      expect({ noProxy, on: proxyConfigured({ HTTPS_PROXY: P, NO_PROXY: noProxy }) }).toEqual({ noProxy, on: true });
    }
    expect(proxyConfigured({ http_proxy: P, no_proxy: "a.example" })).toBe(true);
    expect(proxyConfigured({ HTTPS_PROXY: P, NO_PROXY: "*" })).toBe(false);
    expect(proxyConfigured({ HTTPS_PROXY: P, no_proxy: "a.example, *" })).toBe(false);
    expect(proxyConfigured({ HTTPS_PROXY: P, no_proxy: "a.example", NO_PROXY: "*" })).toBe(true);
    expect(proxyConfigured({ HTTPS_PROXY: "", NO_PROXY: "" })).toBe(false);
  });
});
