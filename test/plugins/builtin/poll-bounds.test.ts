// The pipeline integrations' pollMs bounds: below 100 ms (a typo that would hammer the API) or
// above 5 minutes is refused before any call, naming the field; the default is 5 s.

import { expect, test } from "bun:test";
import azure from "../../../src/plugins/builtin/azure-devops-pipeline/plugin.ts";
import github from "../../../src/plugins/builtin/github-workflow/plugin.ts";
import gitlab from "../../../src/plugins/builtin/gitlab-pipeline/plugin.ts";
import { INPUT_SCHEMAS } from "../../../src/plugins/builtin/index.ts";
import { EdgeError } from "../../../src/errors.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";

// No server listens here: a refused input must fail before any call.
const base = "http://127.0.0.1:9";
const cases = [
  { name: "github-workflow", run: github.actions.dispatch, input: { baseUrl: base, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", tokenRef: "t" } },
  { name: "gitlab-pipeline", run: gitlab.actions.trigger, input: { baseUrl: base, projectId: "acme/app", ref: "main", tokenRef: "t" } },
  { name: "azure-devops-pipeline", run: azure.actions.run, input: { baseUrl: base, organization: "acme", project: "Platform", pipelineId: 12, patRef: "t" } },
];

test("pollMs below 100 or above 300000 is refused with input_invalid naming the field (GitHub, GitLab, Azure DevOps)", async () => {
  for (const c of cases) {
    for (const [pollMs, says] of [[50, "must be at least 100, got 50"], [300_001, "must be at most 300000"], [1000.5, "pollMs"]] as const) {
      const ctx = createTestContext({ secrets: { t: "x" } });
      const error = await Promise.resolve(c.run?.({ ...c.input, pollMs }, ctx)).then(() => undefined, (e: unknown) => e);
      expect([c.name, pollMs, error instanceof EdgeError ? error.code : String(error)]).toEqual([c.name, pollMs, "input_invalid"]);
      expect((error as EdgeError).message).toContain("pollMs");
      expect((error as EdgeError).message).toContain(says);
    }
  }
});

test("pollMs defaults to 5000 ms, documented in each schema", () => {
  for (const c of cases) {
    const schema = INPUT_SCHEMAS[c.name as keyof typeof INPUT_SCHEMAS] as { properties: Record<string, { default?: unknown; minimum?: number; description?: string }> };
    expect([c.name, schema.properties.pollMs?.default, schema.properties.pollMs?.minimum]).toEqual([c.name, 5000, 100]);
    expect(schema.properties.pollMs?.description).toContain("100 to 300000");
  }
});
