// A repository or API URL with a credential in it (https://oauth2:TOKEN@host/…) never shows the
// credential: an edge job's terraform input refuses it without echoing it, a meshStack run's
// (not schema-checked) has it masked before git can print it, and refused inputs quote URLs
// without user:password or query.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "bun:test";
import { fetchModule } from "../../../src/plugins/builtin/terraform/module-source.ts";
import { builtinInputProblem } from "../../../src/plugins/builtin/schemas.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";
import { EdgeError } from "../../../src/errors.ts";

const TOKEN = "glpat-SECRET-0123456789";
const dir = mkdtempSync(join(tmpdir(), "edge-runner-url-credentials-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("terraform: an edge job's module.git with credentials is refused, and the refusal does not quote them", () => {
  for (const git of [`https://oauth2:${TOKEN}@gitlab.test/acme/infra.git`, `https://${TOKEN}@github.test/acme/infra.git`, `ssh://git:${TOKEN}@gitlab.test/acme/infra.git`]) {
    const problem = builtinInputProblem("terraform", "plan", { module: { git } });
    expect(problem).toContain("input.module.git must match");
    expect(problem).not.toContain("SECRET");
  }
  for (const git of ["https://github.test/acme/infra.git", "ssh://git@gitlab.test:22/acme/infra.git", "git@github.test:acme/infra.git"]) {
    expect(builtinInputProblem("terraform", "plan", { module: { git } })).toBeUndefined();
  }
});

test("terraform: a meshStack repository URL with a token has the token masked before git runs, and errors show the URL without it", async () => {
  const ctx = createTestContext();
  // Port 9 (discard) refuses: git fails at once without a prompt (GIT_TERMINAL_PROMPT=0).
  const error = await fetchModule({ git: `https://oauth2:${TOKEN}@127.0.0.1:9/acme/infra.git` }, dir, { PATH: process.env.PATH ?? "/usr/bin:/bin" }, ctx).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  expect((error as EdgeError).message).toStartWith('Cannot fetch the terraform module from "https://127.0.0.1:9/acme/infra.git"');
  expect((error as EdgeError).message).not.toContain("SECRET");
  expect(ctx.masked).toContain(TOKEN);
});

test("a refused input quotes a URL without user:password or query", () => {
  const problem = builtinInputProblem("github-workflow", "dispatch", { owner: "acme", repo: "app", workflow: "d.yml", ref: "main", tokenRef: "t", baseUrl: `ftp://bot:${TOKEN}@ghe.test/api?token=${TOKEN}` });
  expect(problem).toBeDefined();
  expect(problem).not.toContain("SECRET");
});

test("the pipeline integrations' baseUrl refuses user:password in it, without quoting them", () => {
  const inputs: Array<[string, string, Record<string, unknown>]> = [
    ["github-workflow", "dispatch", { owner: "acme", repo: "app", workflow: "d.yml", ref: "main", tokenRef: "t" }],
    ["gitlab-pipeline", "trigger", { projectId: 1, ref: "main", tokenRef: "t" }],
    ["azure-devops-pipeline", "run", { organization: "o", project: "p", pipelineId: 1, patRef: "t" }],
  ];
  for (const [plugin, action, input] of inputs) {
    expect(builtinInputProblem(plugin, action, { ...input, baseUrl: "https://api.example.test" })).toBeUndefined();
    const problem = builtinInputProblem(plugin, action, { ...input, baseUrl: `https://bot:${TOKEN}@api.example.test` });
    expect(problem).toContain("input.baseUrl must match");
    expect(problem).not.toContain("SECRET");
  }
});

test("terraform: an scp-like git@host:path is shown as given", async () => {
  const ctx = createTestContext();
  const error = await fetchModule({ git: "git@127.0.0.1:acme/infra.git", sshKey: "KEY" }, dir, {}, ctx).then(() => undefined, (e: unknown) => e);
  expect((error as EdgeError).message).toStartWith('Cannot fetch the terraform module from "git@127.0.0.1:acme/infra.git" over SSH');
});
