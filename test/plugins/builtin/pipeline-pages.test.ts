// The job lists of a run (GitHub's run jobs, GitLab's pipeline jobs) come in pages of 100: the
// integrations follow the next page (Link rel="next", X-Next-Page) up to MAX_PAGES, so every job
// of a large run shows as a step, and past the bound say once that only the first ones are shown.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import github from "../../../src/plugins/builtin/github-workflow/plugin.ts";
import gitlab from "../../../src/plugins/builtin/gitlab-pipeline/plugin.ts";
import { MAX_PAGES, nextPage } from "../../../src/plugins/builtin/api-pages.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";
import { FakeGithub } from "../../integrations/fakes/github.ts";
import { FakeGitlab } from "../../integrations/fakes/gitlab.ts";

const gh = new FakeGithub();
const gl = new FakeGitlab();
beforeAll(() => Promise.all([gh.start(), gl.start()]));
afterAll(() => Promise.all([gh.stop(), gl.stop()]));
beforeEach(() => {
  gh.pollsToComplete = 1;
  gl.pollsToComplete = 1;
});

const secrets = { gh: "ghp_fake_personal_token_value", gl: gl.accessToken };
const ghInput = () => ({ baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", tokenRef: "gh", pollMs: 100 });
const glInput = () => ({ baseUrl: gl.url, projectId: "acme/app", ref: "main", tokenRef: "gl", pollMs: 100 });
const stepIds = (steps: Array<{ id: string }>) => new Set(steps.map((s) => s.id));

test("GitHub: a run with 150 jobs shows all of them as steps (the second page followed by its Link header)", async () => {
  gh.extraJobs = 148;
  try {
    const ctx = createTestContext({ secrets });
    expect(await github.actions.dispatch?.(ghInput(), ctx)).toMatchObject({ conclusion: "success" });
    const ids = stepIds(ctx.steps);
    expect(ids.has("job-" + String((gh.runs.at(-1)?.id ?? 0) * 10_000 + 100 + 147))).toBe(true);
    expect([...ids].filter((id) => id.startsWith("job-"))).toHaveLength(150);
    expect(gh.requests.some((r) => /\/jobs$/.test(r.path) && r.query.get("page") === "2")).toBe(true);
  } finally {
    gh.extraJobs = 0;
  }
});

test("GitLab: a pipeline with 150 jobs shows all of them as steps (X-Next-Page followed)", async () => {
  gl.extraJobs = 148;
  try {
    const ctx = createTestContext({ secrets });
    expect(await gitlab.actions.trigger?.(glInput(), ctx)).toMatchObject({ status: "success" });
    expect([...stepIds(ctx.steps)].filter((id) => id.startsWith("job-"))).toHaveLength(150);
  } finally {
    gl.extraJobs = 0;
  }
});

test(`GitLab: past ${MAX_PAGES} pages the job shows the first ${MAX_PAGES * 100} jobs and says so once`, async () => {
  gl.extraJobs = MAX_PAGES * 100 + 50;
  gl.pollsToComplete = 3;
  try {
    const ctx = createTestContext({ secrets });
    const before = gl.requests.length;
    expect(await gitlab.actions.trigger?.(glInput(), ctx)).toMatchObject({ status: "success" });
    expect([...stepIds(ctx.steps)].filter((id) => id.startsWith("job-"))).toHaveLength(MAX_PAGES * 100);
    const told = ctx.lines.filter((l) => l.level === "warn" && l.msg.includes(`has more than ${MAX_PAGES * 100} jobs`));
    expect(told).toHaveLength(1);
    expect(gl.requests.slice(before).filter((r) => /\/jobs$/.test(r.path) && Number(r.query.get("page") ?? 1) > MAX_PAGES)).toEqual([]);
  } finally {
    gl.extraJobs = 0;
  }
});

test("nextPage() follows rel=\"next\" on the same origin only, and X-Next-Page; none on the last page", () => {
  const current = "https://api.github.com/repos/a/b/actions/runs/1/jobs?per_page=100";
  const link = (url: string) => new Headers({ link: `<${url}>; rel="next", <https://api.github.com/x?page=9>; rel="last"` });
  expect(nextPage(current, link("https://api.github.com/repositories/1/actions/runs/1/jobs?per_page=100&page=2"))).toBe("https://api.github.com/repositories/1/actions/runs/1/jobs?per_page=100&page=2");
  expect(nextPage(current, link("https://evil.test/steal?page=2"))).toBeUndefined();
  expect(nextPage(current, new Headers({ link: '<https://api.github.com/x?page=1>; rel="prev"' }))).toBeUndefined();
  expect(nextPage("https://gitlab.com/api/v4/projects/1/pipelines/2/jobs?per_page=100", new Headers({ "x-next-page": "3" }))).toBe("https://gitlab.com/api/v4/projects/1/pipelines/2/jobs?per_page=100&page=3");
  expect(nextPage("https://gitlab.com/api/v4/projects/1/pipelines/2/jobs?per_page=100&page=3", new Headers({ "x-next-page": "" }))).toBeUndefined();
});
