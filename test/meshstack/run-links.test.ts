// A claimed run's links and where the runner sends the run token (src/controller/meshstack/run-links.ts):
// only to the configured meshStack. A link elsewhere with meshStack's run API path is called at the
// configured base URL (as meshcloud's Go runners build it), any other fails the run naming it.

import { afterEach, describe, expect, test } from "bun:test";
import { parseRun, reportableRun } from "../../src/controller/meshstack/run-document.ts";
import { builtLinks, callTarget } from "../../src/controller/meshstack/run-links.ts";
import { prepareRun } from "../../src/controller/meshstack/implementations.ts";
import { BASE, RUNNER, runDoc, startScripted, until } from "./scripted-meshstack.ts";

type Doc = Omit<ReturnType<typeof runDoc>, "_links"> & { _links: Record<string, { href: string; templated?: boolean }> };
const doc = (uuid = "r-1") => runDoc(uuid) as unknown as Doc;
const API = `${BASE}/api/meshobjects/meshbuildingblockruns`;

describe("parseRun() run links", () => {
  test("parseRun() refuses an updateSource link without {sourceId}, naming _links.updateSource.href", () => {
    const d = doc();
    d._links.updateSource = { href: `${API}/r-1/status/source` };
    expect(() => parseRun(d, BASE)).toThrow(`"_links.updateSource.href" has no "{sourceId}"`);
  });

  test("parseRun() takes links at the configured scheme and origin as they are", () => {
    const d = doc();
    d._links.planArtifact = { href: `${API}/r-0/plan-artifact` };
    const run = parseRun(d, `${BASE}/`);
    expect(run.links).toEqual({ registerSource: `${API}/r-1/status/source`, updateSource: `${API}/r-1/status/source/{sourceId}`, planArtifact: `${API}/r-0/plan-artifact`, meshstackBaseUrl: BASE, ...(d._links.self === undefined ? {} : { self: d._links.self.href }) });
    expect(run.retargetedFrom).toBeUndefined();
  });

  test("parseRun() refuses a link to another host, or plain http, outside meshStack's run API, naming it", () => {
    const cases: Array<[string, string]> = [
      ["registerSource", "http://collector.example.net/r-1/status/source"],
      ["updateSource", "https://collector.example.net/r-1/{sourceId}"],
      ["planArtifact", "https://storage.example.net/plans/r-0"],
      ["registerSource", "https://meshstack.test:8443/r-1/status/source"],
    ];
    for (const [name, href] of cases) {
      const d = doc();
      d._links[name] = { href };
      expect(() => parseRun(d, BASE)).toThrow(`"_links.${name}.href" points at ${new URL(href).origin}, neither the configured meshStack (${BASE}) nor meshStack's run API`);
    }
  });

  test("parseRun() calls a link to another host or plain http with meshStack's run API path at the configured base URL; a pipeline gets meshStack's https links", () => {
    const d = doc();
    d._links.registerSource = { href: "https://federation.public.example/api/meshobjects/meshbuildingblockruns/r-1/status/source" };
    d._links.updateSource = { href: "https://federation.public.example/api/meshobjects/meshbuildingblockruns/r-1/status/source/{sourceId}" };
    d._links.planArtifact = { href: "http://meshstack.test/api/meshobjects/meshbuildingblockruns/r-0/plan-artifact?x=1" };
    const run = parseRun(d, "https://meshstack-internal.corp:8080/prefix/");
    expect(run.links.registerSource).toBe("https://meshstack-internal.corp:8080/prefix/api/meshobjects/meshbuildingblockruns/r-1/status/source");
    expect(run.links.updateSource).toBe("https://meshstack-internal.corp:8080/prefix/api/meshobjects/meshbuildingblockruns/r-1/status/source/{sourceId}");
    expect(run.links.planArtifact).toBe("https://meshstack-internal.corp:8080/prefix/api/meshobjects/meshbuildingblockruns/r-0/plan-artifact?x=1");
    expect(run.retargetedFrom).toBe("https://federation.public.example");
    const input = prepareRun(run, [], {}, { register: () => {} }).input as { meshstack: { registerSourceUrl: string; updateSourceUrl: string } };
    expect(input.meshstack.registerSourceUrl).toBe(d._links.registerSource.href);
    expect(input.meshstack.updateSourceUrl).toBe(d._links.updateSource.href);
  });

  test("callTarget() never calls a link with credentials in it as it is; builtLinks() is what meshcloud's Go runner calls", () => {
    expect(callTarget("https://user:pw@meshstack.test/x", BASE)).toHaveProperty("problem");
    expect(callTarget(`${BASE}/x`, BASE)).toEqual({ url: `${BASE}/x`, retargeted: false });
    expect(builtLinks("r 1", `${BASE}/`)).toEqual({ registerSource: `${API}/r%201/status/source`, updateSource: `${API}/r%201/status/source/{sourceId}` });
  });

  test("reportableRun() reports a run refused for its links at the register and update URLs built on the configured base URL", () => {
    const d = doc();
    d._links.registerSource = { href: "http://collector.example.net/r-1/status/source" };
    expect(reportableRun(d, BASE)?.links).toEqual(builtLinks("r-1", BASE));
    const noSource = doc();
    noSource._links.updateSource = { href: `${API}/r-1/status/source` };
    expect(reportableRun(noSource, BASE)?.links).toEqual(builtLinks("r-1", BASE));
    expect(reportableRun(doc(), BASE)?.links).toEqual({ registerSource: `${API}/r-1/status/source`, updateSource: `${API}/r-1/status/source/{sourceId}` });
  });
});

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

test("MeshstackConnection: a run whose links point at another host over plain http is reported FAILED at the configured meshStack, naming the link; the run token never goes there", async () => {
  const d = doc("r-2");
  d._links.registerSource = { href: "http://collector.example.net/r-2/status/source" };
  d._links.updateSource = { href: "http://collector.example.net/r-2/status/source/{sourceId}" };
  const h = await startScripted({ claims: [() => Response.json(d, { status: 201 })] });
  stop = h.stop;
  const final = await until(() => h.calls.find((c) => c.method === "PATCH" && c.body?.includes('"FAILED"')), 5000);
  expect(final?.url).toBe(`${API}/r-2/status/source/${RUNNER}`);
  expect(final?.body).toContain("_links.registerSource.href");
  expect(h.calls.filter((c) => !c.url.startsWith(`${BASE}/`)).map((c) => `${c.method} ${c.url}`)).toEqual([]);
}, 20_000);

test("MeshstackConnection: a run whose links name another public hostname with meshStack's run API path runs, reported at the configured meshStack; one warning", async () => {
  const d = doc("r-3");
  d._links.registerSource = { href: "https://federation.public.example/api/meshobjects/meshbuildingblockruns/r-3/status/source" };
  d._links.updateSource = { href: "https://federation.public.example/api/meshobjects/meshbuildingblockruns/r-3/status/source/{sourceId}" };
  const h = await startScripted({ claims: [() => Response.json(d, { status: 201 }), () => Response.json({ ...d, metadata: { uuid: "r-4" } }, { status: 201 })] });
  stop = h.stop;
  await until(() => h.connection.details().recent.length === 2, 5000);
  expect(h.connection.details().recent.map((r) => r.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
  expect(h.calls.filter((c) => !c.url.startsWith(`${BASE}/`)).map((c) => `${c.method} ${c.url}`)).toEqual([]);
  expect(h.records.filter((r) => r.level === "warn" && r.msg.includes("federation.public.example")).length).toBe(1);
}, 20_000);
