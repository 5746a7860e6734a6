// The one rule for cutting a stream's line that does not end (src/secrets/redaction/stream-cut.ts):
// each piece is masked on its own and no secret crosses a cut, for any chunking of the input,
// any placement of secrets, secrets longer than a piece, and one printed over and over.

import { expect, test } from "bun:test";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { RedactedLines, unionOf } from "../../src/secrets/redaction/stream-cut.ts";

const SECRETS = ["cnry-cut-7Hq2Lx9Vb3Kd", "Wm4Pz8Rt-another-one-that-is-quite-a-bit-longer-than-the-first"];
const collapse = (text: string) => text.replace(/(\[REDACTED\])+/g, "[REDACTED]");

/** A deterministic pseudo-random sequence (tests must not flake). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

function scopeOf(values: string[]): RedactionScope {
  const scope = new RedactionScope();
  for (const value of values) scope.add(value);
  return scope;
}

test("pieces joined equal the line masked whole, for random chunkings and placements", () => {
  const scope = scopeOf(SECRETS);
  const next = random(7);
  for (let round = 0; round < 200; round++) {
    let line = "";
    while (line.length < 400) line += next() < 0.15 ? SECRETS[Math.floor(next() * 2)] : "abcdefghij".slice(0, 1 + Math.floor(next() * 9));
    const pieces: string[] = [];
    const lines = new RedactedLines(32 + Math.floor(next() * 64), (piece) => pieces.push(piece));
    for (let at = 0; at < line.length;) {
      const size = 1 + Math.floor(next() * 50);
      lines.write(line.slice(at, at + size), scope);
      at += size;
    }
    lines.end(scope);
    const joined = pieces.join("");
    expect(collapse(joined)).toBe(collapse(scope.text(line)));
    for (const piece of pieces) for (const secret of SECRETS) for (let i = 3; i + 6 <= secret.length; i++) expect(piece).not.toContain(secret.slice(i, i + 6));
  }
});

test("a secret longer than a piece is held until it can be masked whole", () => {
  const long = "L0ng-" + "x7Yq".repeat(40);
  const scope = scopeOf([long]);
  const pieces: string[] = [];
  const lines = new RedactedLines(32, (piece) => pieces.push(piece));
  const text = "a".repeat(30) + long + "b".repeat(30);
  for (const char of text) lines.write(char, scope);
  lines.end(scope);
  expect(collapse(pieces.join(""))).toBe("a".repeat(30) + "[REDACTED]" + "b".repeat(30));
  for (const piece of pieces) expect(piece).not.toContain("x7Yqx7Yq");
});

test("a secret printed over and over without a line end is passed on, not held without bound", () => {
  const scope = scopeOf([SECRETS[0]!]);
  const pieces: string[] = [];
  const lines = new RedactedLines(64, (piece) => pieces.push(piece));
  for (let i = 0; i < 1000; i++) lines.write(SECRETS[0]!, scope);
  expect(pieces.length).toBeGreaterThan(100);
  expect(pieces.every((piece) => /^(\[REDACTED\])+$/.test(piece))).toBe(true);
});

test("whole lines are masked whole, empty lines dropped, and the rest is passed on at the end", () => {
  const scope = scopeOf(SECRETS);
  const pieces: string[] = [];
  const lines = new RedactedLines(1024, (piece) => pieces.push(piece));
  lines.write(`one ${SECRETS[0]}\n\ntwo\nthree ${SECRETS[1]!.slice(0, 10)}`, scope);
  lines.write(`${SECRETS[1]!.slice(10)} end`, scope);
  lines.end(scope);
  expect(pieces).toEqual(["one [REDACTED]", "two", "three [REDACTED] end"]);
});

test("unionOf() masks what any of its redactions masks", () => {
  const union = unionOf([scopeOf([SECRETS[0]!]), scopeOf([SECRETS[1]!])]);
  expect(union.longestForm).toBeGreaterThanOrEqual(SECRETS[1]!.length);
  expect(union.spans(`${SECRETS[0]} and ${SECRETS[1]}`)).toEqual([{ start: 0, end: SECRETS[0]!.length }, { start: SECRETS[0]!.length + 5, end: SECRETS[0]!.length + 5 + SECRETS[1]!.length }]);
});

// From the review of the cut rewrite: an escaped form (\uXXXX, %25XX, HTML references) is longer
// than any listed form, so a look-ahead of the longest form less one could end inside it and leave
// a secret in two unmasked halves, also for a line that arrived whole with its line end.
test("an escaped secret straddling a cut is masked, whether the line came whole or in small writes", () => {
  const secret = SECRETS[0]!;
  const scope = scopeOf([secret]);
  const escapes: Array<(c: string) => string> = [
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    (c) => `%25${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
    (c) => `&amp;#x${c.charCodeAt(0).toString(16)};`,
  ];
  const maxLine = 400;
  for (const escape of escapes) {
    const escaped = [...secret].map(escape).join("");
    expect(scope.text(`x ${escaped} y`)).toBe("x [REDACTED] y");
    for (let before = Math.max(0, maxLine - escaped.length); before < maxLine; before += 7) {
      const line = `${"a".repeat(before)}${escaped}${"b".repeat(300)}\n`;
      for (const size of [line.length, 13]) {
        const pieces: string[] = [];
        const lines = new RedactedLines(maxLine, (piece) => pieces.push(piece));
        for (let at = 0; at < line.length; at += size) lines.write(line.slice(at, at + size), scope);
        lines.end(scope);
        // Whatever the cut, no piece holds the escaped secret's start or end in the clear.
        expect(pieces.join("")).toContain("[REDACTED]");
        for (const piece of pieces) expect(piece).not.toContain(escaped.slice(0, 24));
        expect(pieces.join("").includes(escaped.slice(-24))).toBe(false);
      }
    }
  }
});

// The worker's stray redaction changes when the next job takes the worker: text held without a
// line end was masked with the secrets of the write that ended its line, not of the one it came in.
test("held text is masked with the secrets of every write since it came, not only the last one's", () => {
  const [a, b] = [scopeOf([SECRETS[0]!]), scopeOf([SECRETS[1]!])];
  const pieces: string[] = [];
  const lines = new RedactedLines(65_536, (piece) => pieces.push(piece));
  lines.write(`token is ${SECRETS[0]}`, unionOf([a]));
  lines.write(" done\nnext ", unionOf([b]));
  lines.write(`${SECRETS[0]} and ${SECRETS[1]}\n`, unionOf([b]));
  lines.end(b);
  // The first line's secret came with a's write. The second line began in the write that ended the
  // first, and keeps its redactions until it ends: masked with a's too (more masking, never less).
  expect(pieces).toEqual(["token is [REDACTED] done", "next [REDACTED] and [REDACTED]"]);
  // Once nothing is held, a new line is masked with the secrets in force only.
  lines.write(`${SECRETS[0]}
`, b);
  expect(pieces.at(-1)).toBe(SECRETS[0]);
});
