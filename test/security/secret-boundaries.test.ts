// A secret cut by a boundary before it reaches the redactor (issue 8 item 2, "fail closed"):
// a multi-byte character split between two writes or two pipe chunks (each half decoded alone
// turns into U+FFFD and the rest of the secret no longer matches), a secret printed in three or
// more pieces, the shell plugin's stdout tail cut to 64 KiB before the runner redacts it, and an
// output a plugin cut itself (the http built-in's body). Each test failed before its fix.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HTTP_BODY_LIMIT_BYTES } from "../../src/plugins/builtin/http/plugin.ts";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { PoolPolicy } from "../../src/plugins/pool-policy.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

// "Ä" is two bytes in UTF-8 (C3 84): the writes below split it.
const SECRET = "cnry-bnd-Ä-7Hq2Lx9Vb3Kd";
const PARTS = ["7Hq2Lx9Vb3Kd", "cnry-bnd", "Lx9Vb3"];
const scoped = () => {
  const scope = new RedactionScope();
  scope.add(SECRET);
  return scope;
};
const leaked = (text: string) => PARTS.filter((part) => text.includes(part));

const { pool } = testPool({ cancelGraceMs: 100 });
afterAll(() => pool.close());

describe("a secret printed in three or more pieces", () => {
  const cases: Array<[string, string[]]> = [
    ["three chunks", ["cnry-bnd-", "Ä-7Hq2L", "x9Vb3Kd"]],
    ["a first piece too short to mask alone", ["cn", "ry-bnd-Ä-7H", "q2Lx9Vb3Kd"]],
    ["one character a line", Array.from(SECRET)],
    ["an empty write in between", ["cnry-bnd-Ä", "", "-7Hq2Lx9", "Vb3Kd"]],
  ];
  for (const [name, pieces] of cases) {
    test(`${name}: nothing past the first 3 characters is left`, () => {
      const scope = scoped();
      const out = pieces.map((piece) => scope.line(piece));
      // Each piece whole or joined by line breaks: no 4 characters of the secret in a row.
      for (const text of [out.join(""), out.join("\n")]) {
        for (let i = 3; i + 4 <= SECRET.length; i++) expect(text).not.toContain(SECRET.slice(i, i + 4));
      }
    });
  }

  test("lines around it, and a line that merely starts like it, are left alone", () => {
    const scope = scoped();
    expect(["before", "cnry-bnd-Ä-7H", "q2Lx9Vb3Kd", "after"].map((l) => scope.line(l))).toEqual(["before", "[REDACTED]", "[REDACTED]", "after"]);
    expect(["cnry-b", "and something else", "next"].map((l) => scope.line(l))).toEqual(["[REDACTED]", "and something else", "next"]);
  });
});

describe("the shell plugin's captured stdout", () => {
  test("a secret whose multi-byte character is split between two writes is masked", async () => {
    // printf writes the first byte of Ä, sleeps, then the rest: two pipe chunks.
    const script = `printf 'cnry-bnd-\\303'; sleep 0.3; printf '\\204-7Hq2Lx9Vb3Kd\\n'`;
    const r = request("shell", "run", { input: { command: ["sh", "-c", script], captureStdout: true }, redaction: scoped() });
    const outcome = await pool.run(r);
    expect(outcome.status).toBe("succeeded");
    const stdout = (outcome.output as { stdout: string }).stdout;
    expect(stdout).toContain("[REDACTED]");
    expect(leaked(stdout)).toEqual([]);
    expect(leaked(JSON.stringify(r.logs))).toEqual([]);
  });

  test("the 64 KiB cut never leaves the end of a secret", async () => {
    // The window of the last 65,536 characters begins 10 characters before the secret's end.
    const script = `printf 'head\\n%s\\n' "$S"; head -c ${65_536 - 12} /dev/zero | tr '\\0' y; printf '\\n'`;
    const r = request("shell", "run", { input: { command: ["sh", "-c", script], captureStdout: true, env: { S: SECRET } }, redaction: scoped() });
    const outcome = await pool.run(r);
    expect(outcome.status).toBe("succeeded");
    const stdout = (outcome.output as { stdout: string }).stdout;
    expect(stdout).not.toContain(SECRET.slice(-10));
    expect(stdout).not.toContain(SECRET.slice(-6));
    expect(stdout.endsWith("y\n")).toBe(true);
  });

  test("a line longer than the tail is dropped whole, not returned from its middle", async () => {
    // One line of the secret and 65,515 "y": the window begins 10 characters before the secret's end.
    const script = `printf '%s' "$S"; head -c ${65_536 - 11 - 10} /dev/zero | tr '\\0' y; printf '\\nlast line\\n'`;
    const r = request("shell", "run", { input: { command: ["sh", "-c", script], captureStdout: true, env: { S: SECRET } }, redaction: scoped() });
    const outcome = await pool.run(r);
    const stdout = (outcome.output as { stdout: string }).stdout;
    expect(stdout).not.toContain(SECRET.slice(-10));
    expect(stdout).not.toContain(SECRET.slice(-6));
    expect(stdout).toEndWith("last line\n");
  });
});

// Writes the secret in two pieces that split its "Ä": to process.stdout, or raw to fd 2 (which in
// process isolation is the child's stderr, read by the pool in chunks).
const BYTES_PLUGIN = `import { writeSync } from "node:fs";
const pieces = (s) => { const bytes = new TextEncoder().encode(s + "\\n"); const cut = s.indexOf("Ä") + 1; return [bytes.subarray(0, cut), bytes.subarray(cut)]; };
export default { name: "bytes", version: "1.0.0", actions: {
  async stdout(input) { for (const piece of pieces(input.s)) process.stdout.write(piece); return { ok: true }; },
  async fd2(input) { const [a, b] = pieces(input.s); writeSync(2, a); await new Promise((r) => setTimeout(r, 200)); writeSync(2, b); await new Promise((r) => setTimeout(r, 200)); return { ok: true }; },
} };`;
const bytesFile = join(mkdtempSync(join(tmpdir(), "bytes-plugin-")), "bytes.mjs");
writeFileSync(bytesFile, BYTES_PLUGIN);
const bytesPool = (policy?: PoolPolicy) => testPool({ ...(policy === undefined ? {} : { policy }), resolve: () => fileBundleSource(bytesFile, "bytes", "1.0.0") });

test("a multi-byte character split between two process.stdout.write calls is masked", async () => {
  const { pool: own } = bytesPool();
  try {
    const r = request("bytes", "stdout", { input: { s: SECRET }, redaction: scoped() });
    expect((await own.run(r)).status).toBe("succeeded");
    expect(leaked(JSON.stringify(r.logs))).toEqual([]);
    expect(JSON.stringify(r.logs)).toContain("[REDACTED]");
  } finally {
    await own.close();
  }
});

test("a process worker's stderr split inside a multi-byte character is masked", async () => {
  const { pool: own, records } = bytesPool(new PoolPolicy({ maxWorkers: 1, maxJobsPerWorker: 1000, idleMs: 60_000, prewarm: 0, isolation: "process" }));
  try {
    const r = request("bytes", "fd2", { input: { s: SECRET }, redaction: scoped() });
    expect((await own.run(r)).status).toBe("succeeded");
    const deadline = Date.now() + 5000;
    while (!records.some((x) => x.msg === "Plugin host process wrote to stderr") && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    const printed = JSON.stringify(records.filter((x) => x.msg === "Plugin host process wrote to stderr"));
    expect(printed).toContain("[REDACTED]");
    expect(leaked(printed)).toEqual([]);
  } finally {
    await own.close();
  }
});

describe("an output a plugin cut before returning it", () => {
  test("ending with the first characters of a secret: they are masked (any plugin, here the http built-in's body limit)", async () => {
    // The body's limit falls 9 characters into the secret.
    const server = createServer((_req, res) => res.end("a".repeat(HTTP_BODY_LIMIT_BYTES - 9) + SECRET + " more"));
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    try {
      const port = (server.address() as { port: number }).port;
      const r = request("http", "request", { input: { url: `http://127.0.0.1:${port}/` }, redaction: scoped() });
      const outcome = await pool.run(r);
      const body = (outcome.output as { body: string; truncated: boolean }).body;
      expect((outcome.output as { truncated: boolean }).truncated).toBe(true);
      expect(body.endsWith(SECRET.slice(0, 9))).toBe(false);
      expect(body).toEndWith("[REDACTED]");
    } finally {
      server.close();
    }
  });
});

