// A meshStack APPLY after a DETECT applies the plan the user approved (`planArtifact`), as it is:
// `terraform apply FILE`, no plan of its own, the file 0600 and gone afterwards. A plan whose
// state changed since (Terraform: "Saved plan is stale"), one Terraform cannot read, or one that
// is not base64 fails the run saying so; nothing is planned or applied in its place. Against the
// fake terraform (test/integrations/fakes/terraform), which checks a saved plan as Terraform does.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import terraformPlugin from "../../../src/plugins/builtin/terraform/plugin.ts";
import { approvedPlanFailure, decodeApprovedPlan } from "../../../src/plugins/builtin/terraform/approved-plan.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";

const fakes = new URL("../../integrations/fakes", import.meta.url).pathname;
let dir: string;
let repo: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "tf-approved-plan-"));
  repo = path.join(dir, "module-repo");
  mkdirSync(repo);
  writeFileSync(path.join(repo, "main.tf"), 'resource "null_resource" "r" {}\n');
  const git = (...args: string[]) => spawnSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: repo, encoding: "utf8" });
  expect(git("init", "-q", "-b", "main").status).toBe(0);
  git("add", ".");
  expect(git("commit", "-q", "-m", "module").status).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Invocation { argv: string[]; planFileMode?: string }

/** A meshStack TERRAFORM run as the adapter hands it over; `state` is the shared backend's file. */
function meshstackRun(behavior: "APPLY" | "DETECT" | "DESTROY", name: string, resources: number, planArtifact?: string) {
  return {
    behavior,
    inputs: { resources },
    environment: { PATH: `${fakes}:${process.env.PATH}`, FAKE_TERRAFORM_LOG: path.join(dir, `${name}.log`), FAKE_TERRAFORM_STATE: path.join(dir, `${name}.tfstate`) },
    implementation: { repositoryUrl: repo, refName: "main" },
    meshstack: { runUuid: `run-${name}`, registerSourceUrl: "https://meshstack.example/r", updateSourceUrl: "https://meshstack.example/u" },
    ...(planArtifact === undefined ? {} : { planArtifact }),
  };
}
const invocations = (name: string): Invocation[] => readFileSync(path.join(dir, `${name}.log`), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Invocation);
const state = (name: string) => JSON.parse(readFileSync(path.join(dir, `${name}.tfstate`), "utf8")) as { serial: number; resources: string[] };

async function detect(name: string, resources: number): Promise<string> {
  const out = (await terraformPlugin.actions.detect?.(meshstackRun("DETECT", name, resources), createTestContext())) as { plan?: string };
  expect(typeof out.plan).toBe("string");
  return out.plan as string;
}

async function refusal(run: unknown, action: "apply" | "destroy" = "apply"): Promise<{ code?: string; message: string }> {
  let caught: { code?: string; message: string } | undefined;
  try {
    await terraformPlugin.actions[action]?.(run, createTestContext());
  } catch (error) {
    caught = error as { code?: string; message: string };
  }
  expect(caught).toBeDefined();
  return caught as { code?: string; message: string };
}

test("terraform apply with a meshStack planArtifact applies that plan as it is: no new plan, the file 0600 and removed after", async () => {
  const plan = await detect("verbatim", 1);
  const before = invocations("verbatim").length;
  // The inputs say 3 now: what is applied is still the 1 resource approved.
  const ctx = createTestContext();
  const out = (await terraformPlugin.actions.apply?.(meshstackRun("APPLY", "verbatim", 3, plan), ctx)) as Record<string, unknown>;
  expect(out).toEqual({ changesDetected: true, changes: { add: 1, change: 0, remove: 0 }, outputs: { resource_count: 1 } });
  expect(state("verbatim").resources).toEqual(["null_resource.r0"]);
  const runs = invocations("verbatim").slice(before);
  expect(runs.map((r) => r.argv[0])).toEqual(["init", "apply", "output"]);
  const apply = runs[1] as Invocation;
  const file = apply.argv.at(-1) as string;
  expect(apply.argv).toEqual(["apply", "-input=false", "-json", "-auto-approve", file]);
  expect(path.isAbsolute(file) && file.endsWith("approved.tfplan")).toBe(true);
  expect(apply.planFileMode).toBe("600");
  expect(existsSync(file)).toBe(false);
  expect(ctx.lines.map((l) => l.msg)).toContain(`Applying the plan approved in meshStack (${Buffer.from(plan, "base64").byteLength} bytes) as it is, without planning again`);
}, 60_000);

test("terraform apply with a stale planArtifact (the state changed after the DETECT) fails saying so and applies nothing, no new plan either", async () => {
  const plan = await detect("stale", 1);
  // Someone applies in between: the backend's state moves on (serial 1, two resources).
  await terraformPlugin.actions.apply?.(meshstackRun("APPLY", "stale", 2), createTestContext());
  expect(state("stale")).toMatchObject({ serial: 1, resources: ["null_resource.r0", "null_resource.r1"] });
  const before = invocations("stale").length;
  const error = await refusal(meshstackRun("APPLY", "stale", 1, plan));
  expect(error.code).toBe("command_failed");
  expect(error.message).toBe("Cannot apply the plan approved in meshStack: terraform apply exited with code 1: Saved plan is stale: The given plan file can no longer be applied because the state was changed by another operation after the plan was created.. The state changed after the plan was made, so nothing was applied and no new plan was made in its place; run the dry run (DETECT) again and approve the new plan");
  expect(invocations("stale").slice(before).map((r) => r.argv[0])).toEqual(["init", "apply"]);
  expect(state("stale")).toMatchObject({ serial: 1, resources: ["null_resource.r0", "null_resource.r1"] });
}, 60_000);

test("terraform apply with a planArtifact terraform cannot read fails naming it; one that is not base64 fails before terraform runs", async () => {
  const unreadable = await refusal(meshstackRun("APPLY", "unreadable", 1, Buffer.from("not a plan").toString("base64")));
  expect(unreadable.code).toBe("command_failed");
  expect(unreadable.message).toMatch(/^Cannot apply the plan approved in meshStack: terraform apply exited with code 1: Failed to load ".*approved\.tfplan" as a plan file: Error: couldn't load .*Terraform cannot read it .* so nothing was applied; run the dry run \(DETECT\) again and approve the new plan$/);
  expect(invocations("unreadable").map((r) => r.argv[0])).toEqual(["init", "apply"]);

  const garbled = await refusal(meshstackRun("APPLY", "garbled", 1, "UExBTg==@"));
  expect(garbled).toMatchObject({ code: "input_invalid", message: "Cannot apply the plan approved in meshStack: planArtifact is not valid base64 (9 characters)" });
  expect(existsSync(path.join(dir, "garbled.log"))).toBe(false);
}, 60_000);

test("terraform destroy with a planArtifact is refused: meshStack sends one only with an APPLY", async () => {
  const error = await refusal(meshstackRun("DESTROY", "destroy", 1, Buffer.from("x").toString("base64")), "destroy");
  expect(error).toMatchObject({ code: "input_invalid", message: "Cannot run terraform destroy with a plan to apply: meshStack sends one only with an APPLY" });
  expect(existsSync(path.join(dir, "destroy.log"))).toBe(false);
});

test("decodeApprovedPlan() refuses an empty plan, one over the cap by its length before decoding, and non-base64", () => {
  expect(Buffer.from(decodeApprovedPlan(Buffer.from("PLAN").toString("base64"))).toString()).toBe("PLAN");
  expect(() => decodeApprovedPlan("")).toThrow("Cannot apply the plan approved in meshStack: planArtifact is empty");
  expect(() => decodeApprovedPlan("A".repeat(16), 8)).toThrow("Cannot apply the plan approved in meshStack: it is over 8 bytes (16 base64 characters)");
  expect(() => decodeApprovedPlan(Buffer.alloc(8).toString("base64"), 7)).toThrow("Cannot apply the plan approved in meshStack: it is 8 bytes, over 7");
  expect(() => decodeApprovedPlan("UExB Tg==")).toThrow("not valid base64");
  expect(() => decodeApprovedPlan(42)).toThrow("planArtifact is not a base64 string");
});

test("approvedPlanFailure() says what to do for a stale plan, one of another lineage, and one terraform cannot read; another error as it is", () => {
  expect(approvedPlanFailure("Saved plan does not match the given state: The given plan file can not be applied because it was created from a different state lineage.", 1)).toContain("run the dry run (DETECT) again");
  expect(approvedPlanFailure("Failed to read plan from plan file: Cannot read the plan from the given plan file: plan file was created by Terraform 1.9.7, but this is 1.9.8", 1)).toContain("Terraform cannot read it");
  expect(approvedPlanFailure("local-exec provisioner error: exit status 1", 1)).toBe("Cannot apply the plan approved in meshStack: terraform apply exited with code 1: local-exec provisioner error: exit status 1");
  expect(approvedPlanFailure(undefined, 137)).toBe("Cannot apply the plan approved in meshStack: terraform apply exited with code 137");
});
