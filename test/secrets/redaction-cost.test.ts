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
