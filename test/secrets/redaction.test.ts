import { describe, expect, test } from "bun:test";
import { PatternMatcher } from "../../src/secrets/redaction/pattern-matcher.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { secretForms } from "../../src/secrets/redaction/secret-forms.ts";
import { toWellFormed } from "../../src/util/well-formed.ts";

const SECRET = "hunter2-Sup3r/S3cret+value=";

describe("RedactionScope.text()", () => {
  test("masks the value in every encoded form", () => {
    const scope = new RedactionScope();
    scope.add(SECRET);
    const bytes = Buffer.from(SECRET);
    const forms = [
      SECRET,
      bytes.toString("base64"),
      bytes.toString("base64url"),
      `prefix:${Buffer.concat([Buffer.from("x"), bytes]).toString("base64")}`,
      Buffer.concat([Buffer.from("xy"), bytes, Buffer.from("z")]).toString("base64"),
      Buffer.concat([Buffer.from("xy"), bytes]).toString("base64url"),
      encodeURIComponent(SECRET),
      bytes.toString("hex"),
      bytes.toString("hex").toUpperCase(),
      JSON.stringify({ s: SECRET }),
      JSON.stringify(JSON.stringify({ s: SECRET })),
    ];
    for (const form of forms) {
      const out = scope.text(`before ${form} after`);
      expect(out).toContain("[REDACTED]");
      // No 8-character run of any encoded form survives.
      for (const encoded of secretForms(SECRET)) {
        for (let i = 0; i + 8 <= encoded.length; i += 4) expect(out).not.toContain(encoded.slice(i, i + 8));
      }
    }
  });

  test("masks a secret whole when another secret is its prefix (longest first)", () => {
    const scope = new RedactionScope();
    scope.add("abcd1234");
    scope.add("abcd1234-and-more-secret");
    expect(scope.text("x abcd1234-and-more-secret y abcd1234 z")).toBe("x [REDACTED] y [REDACTED] z");
    const other = new RedactionScope();
    other.add("abcd1234-and-more-secret");
    other.add("abcd1234");
    expect(other.text("abcd1234-and-more-secret!")).toBe("[REDACTED]!");
  });

  test("masks a multi-line secret whole and line by line", () => {
    const scope = new RedactionScope();
    const key = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----";
    scope.add(key);
    expect(scope.text(`key=${key}`)).toBe("key=[REDACTED]");
    expect(scope.text("line: MIIBOgIBAAJBAKj34GkxFhD9")).toBe("line: [REDACTED]");
  });

  test("a job scope masks its own and the process's secrets; the process scope masks live jobs' until they end", () => {
    const process = new RedactionScope();
    process.add("process-api-key");
    const job = process.child("job-1");
    job.add("job-secret-1");
    expect(job.text("process-api-key job-secret-1")).toBe("[REDACTED] [REDACTED]");
    expect(process.text("job-secret-1")).toBe("[REDACTED]");
    const sibling = process.child("job-2");
    expect(sibling.text("job-secret-1")).toBe("job-secret-1");
    job.dispose();
    expect(process.text("job-secret-1")).toBe("job-secret-1");
    // A holder of the ended scope (a worker printing after the run) still masks with it.
    expect(job.text("job-secret-1")).toBe("[REDACTED]");
    job.add("late-secret");
    expect(job.count).toBe(1);
  });

  test("value() masks strings at any depth, keys, and fields named like secrets", () => {
    const scope = new RedactionScope();
    scope.add("s3cr3t-value");
    expect(scope.value({ a: [{ b: "x s3cr3t-value" }], password: "anything", "s3cr3t-value": 1 })).toEqual({
      a: [{ b: "x [REDACTED]" }],
      password: "[REDACTED]",
      "[REDACTED]": 1,
    });
  });

  test("ignores values under 4 characters", () => {
    const scope = new RedactionScope();
    scope.add("abc");
    expect(scope.text("abc")).toBe("abc");
  });
});

// A value from outside (a Vault or GCP answer, a controller's secret, ctx.secrets.mask) can hold
// a lone UTF-16 surrogate: JSON's "\ud800" parses to one. encodeURIComponent throws on it, and a
// throwing add() left the value unmasked wherever the caller went on.
test("a secret with a lone surrogate is registered and masked as printed, in JSON and in its UTF-8 forms", () => {
  const scope = new RedactionScope();
  const secret = "tok-\ud800-Zq9xW7vLp";
  expect(() => scope.add(secret)).not.toThrow();
  expect(scope.count).toBe(1);
  const bytes = Buffer.from(secret, "utf8");
  for (const form of [secret, JSON.stringify({ s: secret }), bytes.toString("base64"), bytes.toString("hex"), encodeURIComponent(toWellFormed(secret))]) {
    const out = scope.text(`before ${form} after`);
    expect(out).toContain("[REDACTED]");
    expect(out).not.toContain("Zq9xW7vLp");
  }
  // Printed through UTF-8 (a process's stdout), the surrogate comes back as U+FFFD.
  expect(scope.text(`x ${toWellFormed(secret)} y`)).toBe("x [REDACTED] y");
  const lowSurrogateFirst = "\udc00-Zq9xW7vLp-end";
  expect(() => scope.add(lowSurrogateFirst)).not.toThrow();
  expect(scope.text(`x ${lowSurrogateFirst} y`)).toBe("x [REDACTED] y");
});

describe("RedactionScope.line(), cutText()", () => {
  test("line() masks a secret split across two lines of the scope's stream", () => {
    const scope = new RedactionScope();
    scope.add("cnry-input-7Hq2Lx9Vb3Kd");
    const out = [scope.line("split start cnry-inpu"), scope.line("t-7Hq2Lx9Vb3Kd split end")].join("\n");
    expect(out).not.toContain("cnry-inpu");
    expect(out).not.toContain("7Hq2Lx9Vb3Kd");
  });

  test("cutText() masks a secret whole and its first 4 or more characters at the end, not 3 or fewer", () => {
    const scope = new RedactionScope();
    scope.add("step-secret-1");
    expect(scope.cutText("x step-secret-1 y")).toBe("x [REDACTED] y");
    expect(scope.cutText("x step-sec")).toBe("x [REDACTED]");
    expect(scope.cutText("x ste")).toBe("x ste");
    expect(scope.cutText("x step-sec y")).toBe("x step-sec y");
  });
});

describe("RedactionScope.line() as a stream", () => {
  test("masks a secret split across two chunks or two lines", () => {
    for (const [a, b] of [["log: split-sec", "ret-value done"], ["split-secret-v", "alue"], ["x split-s", "ecret-value"]]) {
      const scope = new RedactionScope();
      scope.add("split-secret-value");
      const out = scope.line(a!) + scope.line(b!);
      expect(out).not.toContain("secret-v");
      expect(out).not.toContain("split-sec");
      expect(out).not.toContain("ret-value");
      expect(out).not.toContain("ecret-value");
    }
    const scope = new RedactionScope();
    const printed = "-----A-----\nline-one-of-key\nline-two-of-key";
    scope.add(printed);
    const out = printed.split("\n").map((line) => scope.line(line));
    expect(out.join("\n")).not.toContain("line-one-of-key");
    expect(out.join("\n")).not.toContain("line-two-of-key");
  });

  test("leaves ordinary lines alone", () => {
    const scope = new RedactionScope();
    scope.add("zq-secret-qz");
    expect(scope.line("hello world")).toBe("hello world");
    expect(scope.line("second line")).toBe("second line");
  });
});

describe("PatternMatcher", () => {
  test("finds overlapping patterns and merges them", () => {
    const matcher = new PatternMatcher(["he", "she", "hers", "his"]);
    expect(matcher.spans("ushers")).toEqual([{ start: 1, end: 6 }]);
    expect(matcher.spans("ahis xhe")).toEqual([{ start: 1, end: 4 }, { start: 6, end: 8 }]);
    expect(matcher.spans("nothing")).toEqual([]);
  });

  test("agrees with indexOf on random text", () => {
    const alphabet = "abc";
    const rand = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * 3)]).join("");
    for (let round = 0; round < 50; round++) {
      const patterns = Array.from({ length: 5 }, () => rand(2 + Math.floor(Math.random() * 4)));
      const text = rand(60);
      const covered = new Array<boolean>(text.length).fill(false);
      for (const p of patterns) for (let i = text.indexOf(p); i >= 0; i = text.indexOf(p, i + 1)) for (let k = i; k < i + p.length; k++) covered[k] = true;
      const fromMatcher = new Array<boolean>(text.length).fill(false);
      for (const s of new PatternMatcher(patterns).spans(text)) for (let k = s.start; k < s.end; k++) fromMatcher[k] = true;
      expect(fromMatcher).toEqual(covered);
    }
  });
});
