// The documented rule for very short secrets (docs/secrets.md, "Redaction"): values under 4
// characters are not masked, since they would hit ordinary text everywhere. Fail closed means the
// job is told, not left to assume: a reference that resolves to such a value, or a value a plugin
// asks to mask, gets a warning in the job's log that names the reference and never the value.

import { afterAll, expect, test } from "bun:test";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

const { pool } = testPool({ cancelGraceMs: 100 });
afterAll(() => pool.close());

test("a secret reference that resolves to fewer than 4 characters is named in a warning, unmasked and without its value", async () => {
  const scope = new RedactionScope();
  const r = request("shell", "run", { input: { command: ["sh", "-c", "echo started"], secretEnv: { PIN: "vault:kv/data/pin#pin", TOKEN: "long" } }, secrets: { "vault:kv/data/pin#pin": "Q7z", long: "long-enough-secret" }, redaction: scope });
  expect((await pool.run(r)).status).toBe("succeeded");
  const warnings = r.logs.filter((l) => l.level === "warn").map((l) => l.msg);
  expect(warnings).toEqual(['Secret "vault:kv/data/pin#pin" is shorter than 4 characters: a value that short is not masked, so this job\'s logs and outputs can show it']);
  expect(JSON.stringify(r.logs)).not.toContain("Q7z");
  // The rule itself: not masked.
  expect(scope.text("pin Q7z")).toBe("pin Q7z");
});
