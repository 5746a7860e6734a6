// The final status in its minimal form (minimal-final.ts): what is kept and what is left out
// when meshStack refused the full one.

import { expect, test } from "bun:test";
import { minimalFinal } from "../../src/controller/meshstack/minimal-final.ts";

const outputs = { big: { value: "x".repeat(100), type: "STRING", isSensitive: false } };

test("minimalFinal() reports a succeeded run FAILED with a summary saying why, outputs, messages and the plan left out", () => {
  const refused = {
    status: "SUCCEEDED",
    summary: "Run succeeded",
    artifact: "cGxhbg==",
    changesDetected: true,
    steps: [
      { id: "echo", displayName: "Echo", status: "SUCCEEDED", systemMessage: "log" },
      { id: "terraform", displayName: "Terraform", status: "SUCCEEDED", userMessage: "done", outputs },
    ],
  };
  const minimal = minimalFinal(refused, 'HTTP 400: Output "big" is too large', "terraform");
  expect(minimal.status).toBe("FAILED");
  expect(minimal.summary).toContain('meshStack refused the run\'s full result (HTTP 400: Output "big" is too large)');
  expect(minimal.summary).toContain("The run succeeded on the runner");
  expect(minimal.body).toEqual({
    status: "FAILED",
    summary: minimal.summary,
    steps: [
      { id: "terraform", status: "FAILED", userMessage: minimal.summary },
      { id: "echo", status: "SUCCEEDED" },
    ],
  });
});

test("minimalFinal() keeps an async hand-off without a run status (the pipeline reports the run), and a failed run FAILED", () => {
  const handedOff = minimalFinal({ steps: [{ id: "github-workflow", displayName: "GitHub workflow", status: "SUCCEEDED", userMessage: "Pipeline triggered" }] }, "HTTP 413");
  expect(handedOff.status).toBeUndefined();
  expect(handedOff.body).toEqual({ steps: [{ id: "github-workflow", status: "SUCCEEDED", userMessage: handedOff.summary }] });
  const failed = minimalFinal({ status: "FAILED", summary: "boom", steps: [{ id: "manual", status: "FAILED", userMessage: "boom" }] }, "HTTP 400");
  expect(failed.body).toMatchObject({ status: "FAILED", steps: [{ id: "manual", status: "FAILED" }] });
  expect(failed.summary).not.toContain("succeeded on the runner");
});

test("minimalFinal() keeps at most 100 steps and leaves out a step id over 200 characters", () => {
  const steps = [{ id: "x".repeat(201), status: "SUCCEEDED" }, ...Array.from({ length: 150 }, (_, i) => ({ id: `s${i}`, status: "SUCCEEDED" }))];
  const minimal = minimalFinal({ status: "SUCCEEDED", steps }, "HTTP 413");
  const kept = minimal.body.steps as Array<{ id: string }>;
  expect(kept).toHaveLength(100);
  expect(kept[0]?.id).toBe("s0");
  expect(kept.some((s) => s.id.length > 200)).toBe(false);
});
