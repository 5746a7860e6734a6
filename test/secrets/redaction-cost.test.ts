// The cost side of redaction (issue 15): a job without secrets must not pay for a matcher.

import { expect, test } from "bun:test";
import { PatternMatcher } from "../../src/secrets/redaction/pattern-matcher.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";

test("jobs without secrets build no matcher of their own; a job with one still masks it", () => {
  const process = new RedactionScope();
  process.add("process-secret-value");
  expect(process.text("x process-secret-value y")).toBe("x [REDACTED] y");
  const before = PatternMatcher.built;
  for (let i = 0; i < 100; i++) {
    const job = process.child(`job ${i}`);
    expect(job.line(`line ${i} of a job, process-secret-value`)).toBe(`line ${i} of a job, [REDACTED]`);
    expect(process.text(`runner log about job ${i}`)).toBe(`runner log about job ${i}`);
    job.dispose();
  }
  // At most the one empty matcher every secret-less scope shares (built at its first use).
  expect(PatternMatcher.built - before).toBeLessThanOrEqual(1);
  const afterLoop = PatternMatcher.built;

  const job = process.child("job with a secret");
  job.add("job-secret-value");
  expect(job.line("a job-secret-value b")).toBe("a [REDACTED] b");
  expect(process.text("runner saw job-secret-value")).toBe("runner saw [REDACTED]");
  expect(PatternMatcher.built - afterLoop).toBe(1);
});

// `--version` loads the redaction modules (the entry point masks crash reports): loading them
// must not build a matcher, whose cold constructor cost every start ~8 ms and ~2-7 MiB.
test("loading the redaction modules builds no matcher", () => {
  const root = new URL("../..", import.meta.url).pathname;
  const script = `const { PatternMatcher } = await import("${root}src/secrets/redaction/pattern-matcher.ts");
await import("${root}src/secrets/redaction/redaction-scope.ts");
await import("${root}src/log/redact.ts");
console.log(PatternMatcher.built);`;
  const result = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  expect(result.stderr.toString()).toBe("");
  expect(result.stdout.toString().trim()).toBe("0");
});

// Each scope caches its list of matchers (issue 15: rebuilding it for every field of every log
// record showed in the runner's profile); any change to any scope must still be seen at once.
test("a scope's cached matchers follow every later change to it, its parent and its children", () => {
  const process = new RedactionScope();
  const job = process.child("job");
  expect(job.text("a parent-secret-1 b")).toBe("a parent-secret-1 b");
  expect(process.text("c job-secret-1 d")).toBe("c job-secret-1 d");
  process.add("parent-secret-1");
  expect(job.text("a parent-secret-1 b")).toBe("a [REDACTED] b");
  job.add("job-secret-1");
  expect(process.text("c job-secret-1 d")).toBe("c [REDACTED] d");
  const late = process.child("late job");
  late.add("late-secret-1");
  expect(process.text("e late-secret-1 f")).toBe("e [REDACTED] f");
  late.dispose();
  expect(process.text("e late-secret-1 f")).toBe("e late-secret-1 f");
  process.remove("parent-secret-1");
  expect(job.text("a parent-secret-1 b job-secret-1")).toBe("a parent-secret-1 b [REDACTED]");
});

// A runner's start masks its first log lines and its first /readyz answers with the process
// scope: building its matcher for them cost ~2-4 ms of CPU before ready (issue 15,
// docs/performance.md start-up, seventh pass). Text without a secret is answered without it.
test("RedactionScope.text() of a scope alone builds no matcher for text without its secrets; the first that holds one does", () => {
  const alone = new RedactionScope();
  alone.add("api-key-0123456789abcdef");
  const before = PatternMatcher.built;
  expect(alone.text("starting: telling the controller the encryption keys")).toBe("starting: telling the controller the encryption keys");
  expect(alone.value({ msg: "Status page on http://127.0.0.1:8787/", runnerId: "r1" })).toEqual({ msg: "Status page on http://127.0.0.1:8787/", runnerId: "r1" });
  expect(PatternMatcher.built - before).toBe(0);
  // Escapes to decode, or a secret in it: the matcher as before.
  expect(alone.text("key=api%2Dkey%2D0123456789abcdef")).toBe("key=[REDACTED]");
  expect(PatternMatcher.built - before).toBe(1);
  expect(alone.text("Bearer YXBpLWtleS0wMTIzNDU2Nzg5YWJjZGVm")).toBe("Bearer [REDACTED]");
  expect(PatternMatcher.built - before).toBe(1);
});

// The shortcut must give text()'s answer exactly: compared with the same scope made to use its
// matcher (a live job scope beside it) on texts full of whole and broken forms.
test("RedactionScope.text() answers the same with and without its matcher", () => {
  const secrets = ["api-key-0123456789abcdef", "p@ss w0rd/with+chars", "ünïcødé-sécret"];
  const alone = new RedactionScope();
  const withJob = new RedactionScope();
  for (const secret of secrets) {
    alone.add(secret);
    withJob.add(secret);
  }
  withJob.child("a job without secrets");
  const pieces = [
    ...secrets,
    ...secrets.map((s) => Buffer.from(s).toString("base64")),
    ...secrets.map((s) => encodeURIComponent(s)),
    ...secrets.map((s) => JSON.stringify(s).slice(1, -1)),
    ...secrets.map((s) => s.slice(0, s.length - 1)),
    ...secrets.map((s) => s.slice(1)),
    "plain words", " ", "\n", "%", "\\", "&amp;", "x",
  ];
  let seed = 7;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  let masked = 0;
  for (let i = 0; i < 2000; i++) {
    let text = "";
    for (let k = 1 + random(4); k > 0; k--) text += pieces[random(pieces.length)];
    const expected = withJob.text(text);
    if (expected !== text) masked++;
    // Fresh copies each time: the first text that holds a secret builds the matcher of `alone`.
    const fresh = new RedactionScope();
    for (const secret of secrets) fresh.add(secret);
    expect(fresh.text(text)).toBe(expected);
    expect(alone.text(text)).toBe(expected);
  }
  // Both kinds were drawn: texts with secrets and without.
  expect(masked).toBeGreaterThan(300);
  expect(masked).toBeLessThan(1900);
});
