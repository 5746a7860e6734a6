// The encodings a plugin, a tool or a shell commonly emits beyond the plain forms (issue 8 item 2,
// "fail closed"): strict and lower-case percent-encoding, `+` for space, JSON `\uXXXX` escapes of
// every character (also escaped twice), `\xXX`, shell quoting and backslash escapes, HTML
// entities, hex with separators, the whole base64 of a short secret, CRLF printing of a multi-line
// secret, and a non-ASCII secret as mojibake. Each case failed before the redactor decoded them.

import { describe, expect, test } from "bun:test";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";

const SECRET = "cnry-Ab/c+d e!f'g~h(i)*j";
const bytes = (s: string) => [...Buffer.from(s, "utf8")];
const hex2 = (b: number) => b.toString(16).padStart(2, "0");
/** Percent-encodes every byte outside `keep`, in either case. */
const percent = (s: string, keep: RegExp, lower: boolean) => bytes(s).map((b) => (keep.test(String.fromCharCode(b)) ? String.fromCharCode(b) : "%" + (lower ? hex2(b) : hex2(b).toUpperCase()))).join("");
const unicodeEscapes = (s: string, upper = false) => Array.from(s, (c) => "\\u" + (upper ? c.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase() : c.charCodeAt(0).toString(16).padStart(4, "0"))).join("");

const FORMS: Record<string, (s: string) => string> = {
  "RFC 3986 percent-encoding, upper-case hex": (s) => percent(s, /[A-Za-z0-9\-_.~]/, false),
  "RFC 3986 percent-encoding, lower-case hex": (s) => percent(s, /[A-Za-z0-9\-_.~]/, true),
  "every byte percent-encoded": (s) => percent(s, /(?!)/, false),
  "every byte percent-encoded, lower case": (s) => percent(s, /(?!)/, true),
  "form encoding (URLSearchParams, + for space)": (s) => new URLSearchParams({ a: s }).toString().slice(2),
  "lower-case percent with + for space": (s) => percent(s, /[A-Za-z0-9\-_.~ ]/, true).replace(/ /g, "+"),
  "encodeURI (reserved characters kept)": (s) => encodeURI(s),
  "Python quote (slash kept)": (s) => percent(s, /[A-Za-z0-9\-_.~/]/, false),
  "JSON \\u escapes of every character": (s) => unicodeEscapes(s),
  "JSON \\u escapes, upper-case hex": (s) => unicodeEscapes(s, true),
  "JSON \\u escapes, escaped again": (s) => JSON.stringify(unicodeEscapes(s)).slice(1, -1),
  "\\x escapes": (s) => bytes(s).map((b) => "\\x" + hex2(b)).join(""),
  "shell single-quoted": (s) => "'" + s.replace(/'/g, "'\\''") + "'",
  "shell single-quoted, '\"'\"' style": (s) => "'" + s.replace(/'/g, `'"'"'`) + "'",
  "printf %q backslash escapes": (s) => s.replace(/[^A-Za-z0-9_./:,+@%^=-]/g, "\\$&"),
  "HTML decimal entities": (s) => Array.from(s, (c) => `&#${c.charCodeAt(0)};`).join(""),
  "HTML hex entities": (s) => Array.from(s, (c) => `&#x${c.charCodeAt(0).toString(16)};`).join(""),
  "HTML escaped": (s) => s.replace(/&/g, "&amp;").replace(/'/g, "&#39;").replace(/</g, "&lt;"),
  "hex with colons": (s) => bytes(s).map(hex2).join(":"),
  "hex with spaces, upper case": (s) => bytes(s).map((b) => hex2(b).toUpperCase()).join(" "),
};

describe("encodings beyond the plain forms", () => {
  for (const [name, encode] of Object.entries(FORMS)) {
    test(`${name} is masked`, () => {
      const scope = new RedactionScope();
      scope.add(SECRET);
      const encoded = encode(SECRET);
      const out = scope.text(`before ${encoded} after`);
      expect(out).toContain("[REDACTED]");
      expect(out).toStartWith("before ");
      expect(out).toEndWith(" after");
      // Nothing of the encoded secret longer than a few characters is left.
      const left = out.slice("before ".length, -" after".length).replace("[REDACTED]", "");
      expect(left.length).toBeLessThanOrEqual(3);
    });
  }

  test("the same encodings inside a line of the job's stream are masked too", () => {
    const scope = new RedactionScope();
    scope.add(SECRET);
    for (const encode of Object.values(FORMS)) expect(scope.line(`curl -d 'p=${encode(SECRET)}' https://x`)).toContain("[REDACTED]");
  });

  test("a short secret (4 or 5 characters) in its whole base64 and base64url forms", () => {
    for (const value of ["abcd", "Xy9!z"]) {
      const scope = new RedactionScope();
      scope.add(value);
      const b64 = Buffer.from(value).toString("base64");
      expect(scope.text(`auth ${b64} end`)).toBe("auth [REDACTED] end");
      expect(scope.text(`auth ${Buffer.from(value).toString("base64url")} end`)).toBe("auth [REDACTED] end");
    }
  });

  test("a multi-line secret printed with CRLF line ends, or one with CRLF printed with LF", () => {
    const scope = new RedactionScope();
    scope.add("key-line-1\nab\ncd");
    expect(scope.text("k=key-line-1\r\nab\r\ncd!")).toBe("k=[REDACTED]!");
    const crlf = new RedactionScope();
    crlf.add("key-line-1\r\nab\r\ncd");
    expect(crlf.text("k=key-line-1\nab\ncd!")).toBe("k=[REDACTED]!");
  });

  test("a non-ASCII secret percent-encoded, \\x-escaped, or shown as Latin-1 mojibake", () => {
    const value = "clé-sécrète-ünï";
    const scope = new RedactionScope();
    scope.add(value);
    for (const form of [encodeURIComponent(value), encodeURIComponent(value).toLowerCase(), bytes(value).map((b) => "\\x" + hex2(b)).join(""), Buffer.from(value, "utf8").toString("latin1")]) {
      expect(scope.text(`v=${form};`)).toBe("v=[REDACTED];");
    }
  });

  test("a secret beyond the Basic Multilingual Plane, as HTML references or \\u surrogate pairs, and in a text of 100,000 characters", () => {
    const value = "cnry-emoji-\u{1F600}-Zx4Cv6";
    const scope = new RedactionScope();
    scope.add(value);
    const references = Array.from(value, (c) => `&#x${c.codePointAt(0)!.toString(16)};`).join("");
    expect(scope.text(`a ${references} b`)).toBe("a [REDACTED] b");
    expect(scope.text(`a ${JSON.stringify(value).slice(1, -1).replace(/[^\x20-\x7e]/g, (c) => "\\u" + c.charCodeAt(0).toString(16))} b`)).toBe("a [REDACTED] b");
    const long = `${"%41".repeat(33_000)} ${encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())} end`;
    expect(scope.text(long).endsWith(" [REDACTED] end")).toBe(true);
    // And a short text after it still maps its positions right.
    expect(scope.text(`x ${encodeURIComponent(value)} y`)).toBe("x [REDACTED] y");
  });

  test("text with escapes but no secret in it is left exactly as it was", () => {
    const scope = new RedactionScope();
    scope.add(SECRET);
    for (const text of ["100% done", "%41%42 \\u0041 &amp; &#65; \\x41 a\\ b", "%zz \\u12 &#; &#x; \\", "50%2", "C:\\path\\to\\file"]) {
      expect(scope.text(text)).toBe(text);
      expect(scope.line(text)).toBe(text);
    }
  });
});

describe("base64 wrapped in lines", () => {
  const long = "cnry-wrapped-" + "Qw8Zp1Rt6Ys4Mn5Bv7Jk3Hg8Fd2Sa9Pl0Ok9Ij8Uh7Yg".repeat(3);
  // `base64` wraps at 76 columns, `openssl base64` at 64; `echo` adds a newline to the input.
  const wrapped = (input: string, width: number) => (Buffer.from(input).toString("base64").match(new RegExp(`.{1,${width}}`, "g")) ?? []);
  for (const [name, lines] of [
    ["base64 (76 columns)", wrapped(long, 76)],
    ["openssl base64 (64 columns)", wrapped(long, 64)],
    ["echo | base64 (a newline encoded after the secret)", wrapped(`${long}\n`, 76)],
  ] as const) {
    test(`${name}, printed line by line or as one text`, () => {
      expect(lines.length).toBeGreaterThan(1);
      const scope = new RedactionScope();
      scope.add(long);
      const out = lines.map((line) => scope.line(line));
      // Every line but the last few characters that also encode what follows the secret.
      for (const [i, line] of out.entries()) if (i < lines.length - 1) expect(line).toBe("[REDACTED]");
      expect(out.at(-1)!.replace("[REDACTED]", "").length).toBeLessThanOrEqual(4);
      const whole = new RedactionScope();
      whole.add(long);
      expect(whole.text(`data:\n${lines.join("\n")}\nend`).replace(/\n?\[REDACTED\]\n?/g, "|").length).toBeLessThan(20);
    });
  }
});
