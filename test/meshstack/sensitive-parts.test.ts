// A sensitive input whose value is not one text (a LIST or object meshStack sent in clear, a
// number, decrypted text that is JSON) holds secrets a plugin may print one by one. Each string
// and number in it, and its JSON text, is masked with the run's scope, within the bounds of what a
// plugin may mask; past them the run fails before its plugin starts, naming the input.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { decryptInputs } from "../../src/controller/meshstack/implementations.ts";
import { MAX_PARSED_CHARS, MAX_PARTS_DEPTH, SensitiveParts } from "../../src/secrets/redaction/sensitive-parts.ts";
import type { MeshstackRun, RunInput } from "../../src/controller/meshstack/run-document.ts";
import { redactor } from "../../src/log/redact.ts";
import { MAX_MASK_CHARS, MAX_MASKS } from "../../src/secrets/redaction/mask-limits.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { secretForms } from "../../src/secrets/redaction/secret-forms.ts";
import { createStatusApp } from "../../src/status/app.ts";
import { meshstackSection } from "../../src/status/meshstack-section.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { eventually } from "../helpers/harness.ts";
import { snapshotFixture } from "../status/fixtures.ts";
import { cleanUp, ended, runnerKeys, startAdapter, type Adapter } from "./adapter-bed.ts";
import { meshstackEncrypt } from "./meshstack-encrypt.ts";

beforeAll(() => void runnerKeys());
afterEach(cleanUp);

const canary = (name: string) => `cnry-${name}-${randomBytes(6).toString("hex")}`;

/** A run with these inputs, as parseRun() gives it (only what decryptInputs() reads). */
const runWith = (inputs: RunInput[]) => ({ inputs }) as unknown as MeshstackRun;
const sensitive = (key: string, type: string, value: unknown): RunInput => ({ key, type, value, isSensitive: true, isEnvironment: false });

/** What decryptInputs() registers for `inputs`, with the test's runner key. */
function registered(inputs: RunInput[]): string[] {
  const out: string[] = [];
  decryptInputs(runWith(inputs), [runnerKeys().privateKey], (secret) => out.push(secret));
  return out;
}

describe("decryptInputs() registers the parts of a sensitive value that is not one text", () => {
  test("a LIST and an object sent in clear: every string and number, and the JSON text; booleans, null and short values not", () => {
    const [a, b, c] = [canary("a"), canary("b"), canary("c")];
    const got = registered([
      sensitive("list", "LIST", [a, b, 12345678, true, null, "ab"]),
      sensitive("obj", "CODE", { db: { user: "admin", password: c }, ports: [5432] }),
      sensitive("pin", "INTEGER", 73914025),
      sensitive("flag", "BOOLEAN", true),
      { key: "plain", type: "LIST", value: ["not-a-secret"], isSensitive: false, isEnvironment: false },
    ]);
    expect(got).toEqual(expect.arrayContaining([a, b, "12345678", JSON.stringify([a, b, 12345678, true, null, "ab"]), c, "admin", "5432", "73914025"]));
    expect(got).toContain(JSON.stringify({ db: { user: "admin", password: c }, ports: [5432] }));
    for (const never of ["true", "null", "ab", "not-a-secret"]) expect(got).not.toContain(never);
  });

  test("decrypted text that is JSON: the whole plaintext, then its parts; other text is one value", () => {
    const [a, b] = [canary("a"), canary("b")];
    const pem = runnerKeys().publicPem;
    const list = JSON.stringify([a, { nested: b }], null, 2);
    const got = registered([
      sensitive("encList", "LIST", meshstackEncrypt(pem, list)),
      sensitive("hcl", "CODE", meshstackEncrypt(pem, `{ not json ${a}`)),
      sensitive("password", "STRING", meshstackEncrypt(pem, b)),
    ]);
    expect(got).toEqual([list, JSON.stringify([a, { nested: b }]), a, b, `{ not json ${a}`, b]);
  });

  test("the whole run is one budget: past MAX_MASKS parts the run fails naming the input", () => {
    const many = Array.from({ length: MAX_MASKS }, (_, i) => `part-${i}-xxxx`);
    // The list's JSON text is one part too: MAX_MASKS strings do not fit.
    expect(() => registered([sensitive("many", "LIST", many)])).toThrow(`Cannot take sensitive meshStack input "many": the run's sensitive values that are not plain text hold more than ${MAX_MASKS} parts`);
    const half = many.slice(0, MAX_MASKS / 2);
    expect(() => registered([sensitive("first", "LIST", half), sensitive("second", "LIST", half)])).toThrow(`Cannot take sensitive meshStack input "second"`);
    expect(() => registered([sensitive("first", "LIST", half.slice(1))])).not.toThrow();
  });

  test("a part over MAX_MASK_CHARS, a value nested past MAX_PARTS_DEPTH, decrypted JSON past MAX_PARSED_CHARS: refused, naming the input", () => {
    expect(() => registered([sensitive("big", "LIST", ["x".repeat(MAX_MASK_CHARS + 1)])])).toThrow(`Cannot take sensitive meshStack input "big": its JSON text is ${MAX_MASK_CHARS + 5} characters`);
    let deep: unknown = ["leaf-secret"];
    for (let i = 1; i < MAX_PARTS_DEPTH; i++) deep = [deep];
    expect(() => registered([sensitive("deep", "LIST", deep)])).not.toThrow();
    expect(() => registered([sensitive("deeper", "LIST", [deep])])).toThrow(`Cannot take sensitive meshStack input "deeper": its value nests deeper than ${MAX_PARTS_DEPTH} levels`);
    const parts = new SensitiveParts(() => {}, (key, why) => new Error(`"${key}": ${why}`));
    expect(() => parts.plaintext("deepText", `${"[".repeat(MAX_PARTS_DEPTH + 1)}${"]".repeat(MAX_PARTS_DEPTH + 1)}`)).toThrow(`"deepText": its value is JSON nested deeper than ${MAX_PARTS_DEPTH} levels`);
    // Brackets inside strings are text, not nesting.
    expect(() => parts.plaintext("brackets", JSON.stringify(["[".repeat(200)]))).not.toThrow();
    expect(() => parts.plaintext("huge", `[${" ".repeat(MAX_PARSED_CHARS)}]`)).toThrow(`"huge": its value starts like JSON and is ${MAX_PARSED_CHARS + 2} characters`);
  });

  test("a part with a lone surrogate (JSON allows one) is masked around it, not a crash", () => {
    const scope = new RedactionScope({ name: "surrogate test" });
    const [a, b] = [canary("a"), canary("b")];
    expect(() => decryptInputs(runWith([sensitive("odd", "LIST", [`${a}\udc00${b}`])]), [], (secret) => scope.add(secret))).not.toThrow();
    expect(scope.text(`printed ${a}\ufffd${b}`)).toBe("printed [REDACTED]");
    expect(scope.text(`printed ${a}\udc00${b}`)).not.toContain("cnry-");
  });

  test("what it registers masks a plugin's line that prints one element", () => {
    const scope = new RedactionScope({ name: "parts test" });
    const a = canary("a");
    decryptInputs(runWith([sensitive("list", "LIST", ["public", a])]), [], (secret) => scope.add(secret));
    expect(scope.text(`item ${a} done`)).toBe("item [REDACTED] done");
  });
});

describe("SensitiveParts.plaintext()", () => {
  test("registers a JSON number as written where parsing changed it (digits past a double, 1.50), never Infinity", () => {
    const scope = new RedactionScope({ name: "numbers test" });
    const got: string[] = [];
    const value = '{"account_number": 12345678901234567890, "pin_float": 1.10, "huge": 1e400, "pw":"s3cret-pass"}';
    scope.add(value);
    new SensitiveParts((p) => (got.push(p), scope.add(p)), (_key, why) => new Error(why)).plaintext("vault:kv/data/bank#acct", value);
    expect(scope.line("acct=12345678901234567890;")).toBe("acct=[REDACTED];");
    expect(scope.line("python printed: 12345678901234567890 ok")).toBe("python printed: [REDACTED] ok");
    expect(got).toContain("1e400");
    expect(got).not.toContain("Infinity");
    expect(scope.line("status: 200 Infinity")).toBe("status: 200 Infinity");
  });

  test("a meshStack input decrypted to JSON with a big integer: the digits as written are masked (one rule with references)", () => {
    const scope = new RedactionScope({ name: "numbers test" });
    decryptInputs(runWith([sensitive("acct", "CODE", meshstackEncrypt(runnerKeys().publicPem, '{"n":98765432109876543210}'))]), [runnerKeys().privateKey], (secret) => scope.add(secret));
    expect(scope.line("n=98765432109876543210")).toBe("n=[REDACTED]");
  });

  test("JSON after a leading byte order mark (U+FEFF) still has its parts registered", () => {
    const got: string[] = [];
    new SensitiveParts((p) => got.push(p), (_key, why) => new Error(why)).plaintext("gcp:projects/p/secrets/db", '\uFEFF{"user":"dbadmin","password":"hunter2-secret"}\r\n');
    expect(got).toContain("hunter2-secret");
    expect(got).toContain("dbadmin");
  });
});

/** A plugin that prints each part of its sensitive inputs and echoes them in plain outputs and a step message. */
function echoPartsPlugin() {
  const code = `export default { name: "echoparts", version: "1.0.0", actions: { default(input, ctx) {
    const { secretList, secretObject, secretJson, secretPin } = input.inputs;
    const decrypted = JSON.parse(secretJson);
    for (const item of secretList) ctx.log.info("list item " + item);
    ctx.log.info("object password " + secretObject.db.password + " whole " + JSON.stringify(secretObject));
    for (const item of decrypted) ctx.log.info("decrypted item " + item);
    ctx.log.info("pin " + secretPin);
    ctx.step({ id: "echo", name: "Echo", status: "succeeded", message: "first " + secretList[0] + " then " + decrypted[1] });
    return { outputs: { first: secretList[0], all: secretList, password: secretObject.db.password, object: secretObject, fromDecrypted: decrypted[0], pin: String(secretPin) } };
  } } };`;
  const source = { kind: "bundle", url: `data:text/javascript;base64,${Buffer.from(code).toString("base64")}`, id: "test:echoparts", name: "echoparts", version: "1.0.0" } as const;
  return () => source;
}

async function statusPages(s: Adapter): Promise<string> {
  const app = createStatusApp({ snapshot: () => snapshotFixture(), metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: 0 }), redactor, sections: [meshstackSection(() => s.connection.details())] });
  return `${await (await app.request("/status")).text()}\n${await (await app.request("/")).text()}`;
}

function expectNone(where: string, text: string, secrets: Record<string, string>): void {
  for (const [name, secret] of Object.entries(secrets)) {
    expect({ where, name, found: secretForms(secret).filter((form) => text.includes(form)) }).toEqual({ where, name, found: [] });
  }
}

test("MeshstackConnection: a plugin that logs the elements of sensitive LIST, object, number and decrypted JSON inputs and echoes them in outputs leaks none of them to meshStack, the log or /status", async () => {
  const [l1, l2, pw, d1, d2] = [canary("list1"), canary("list2"), canary("pw"), canary("dec1"), canary("dec2")];
  const pin = 7_391_402_581;
  const s = await startAdapter({ plugins: { TERRAFORM: { plugin: "echoparts", action: "default" } }, resolve: echoPartsPlugin(), logLevel: "debug" });
  const uuid = s.fake.addRun({
    type: "TERRAFORM",
    implementation: { repositoryUrl: "https://git.example.com/m.git" },
    // Encrypted by the fake (its JSON text): the runner decrypts it to text the plugin parses.
    inputs: [{ key: "secretJson", value: [d1, d2], type: "LIST", isSensitive: true }],
    // As meshStack sends a sensitive value it does not encrypt: in clear.
    rawInputs: [
      { key: "secretList", value: [l1, l2], type: "LIST", isSensitive: true },
      { key: "secretObject", value: { db: { user: "admin", password: pw } }, type: "CODE", isSensitive: true },
      { key: "secretPin", value: pin, type: "INTEGER", isSensitive: true },
    ],
  });
  const run = await eventually(ended(s.fake, uuid), 15_000, "run ended");
  await eventually(() => (s.runner?.runningCount === 0 && s.connection.details().recent.some((r) => r.runUuid === uuid) ? true : undefined), 5000, "line ended");
  expect(run.status).toBe("SUCCEEDED");
  // The plugin did print and echo them: masked, not missing.
  const sent = JSON.stringify(run.updates);
  expect(sent).toContain("list item [REDACTED]");
  expect(sent).toContain("decrypted item [REDACTED]");
  expect(run.steps.get("echo")?.userMessage).toBe("first [REDACTED] then [REDACTED]");
  const outputs = [...run.steps.values()].flatMap((step) => Object.values(step.outputs ?? {}));
  expect(outputs.length).toBeGreaterThan(0);
  for (const output of outputs) expect(output.isSensitive).toBe(false);
  const secrets = { l1, l2, pw, d1, d2, pin: String(pin) };
  expectNone("sent", sent, secrets);
  expectNone("log", JSON.stringify(s.logs), secrets);
  expectNone("status", await statusPages(s), secrets);
}, 30_000);
