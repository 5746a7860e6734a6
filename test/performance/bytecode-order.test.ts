// The executable's bytecode is laid out by recorded starts (scripts/record-bytecode-order.ts,
// scripts/build.ts): a missing or foreign profile would silently cost every start the layout
// (docs/performance.md, start-up, sixth pass), so the committed ones are checked here.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { BYTECODE_ORDER_DIR, BYTECODE_ORDER_FILES } from "../../scripts/record-bytecode-order.ts";

test("each start's bytecode profile is committed in the form Bun writes (v2, a kind and a hash per line)", () => {
  expect(BYTECODE_ORDER_FILES[0]).toBe("run.order");
  for (const name of BYTECODE_ORDER_FILES) {
    const lines = readFileSync(`${BYTECODE_ORDER_DIR}/${name}`, "utf8").trimEnd().split("\n");
    expect({ name, header: lines[0] }).toEqual({ name, header: "v2" });
    // A kind letter (F, K, M, N, S as Bun 1.4 writes them) and a 64-bit content hash.
    expect(lines.slice(1).filter((line) => !/^[A-Z] [0-9a-f]{16}$/.test(line))).toEqual([]);
    // A runner's start and first job use several hundred functions of ours and Bun's; --version a few.
    expect({ name, used: lines.filter((line) => line.startsWith("F ")).length > (name === "run.order" ? 300 : 0) }).toEqual({ name, used: true });
  }
});
