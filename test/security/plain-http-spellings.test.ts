// Issue 8 item 1: plain http is refused by meaning, not by spelling. The URL is parsed once in
// config resolution, so `HTTP://`, `Http://` and a leading space meet the same "https unless
// loopback or --insecure" rule, in the runner, the admin CLI and `plugin publish`.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, resolveConfig } from "../../src/config/resolve.ts";
import { assertBuilt, FLAVOURS, start } from "../helpers/processes.ts";

const binary = FLAVOURS[0]!;
// 0.0.0.0 reaches this machine's own listeners but is not a loopback name, so a runner that
// wrongly accepted the URL would talk to the capture server below and nothing leaves the host.
const SPELLINGS = (port: number) => [`HTTP://0.0.0.0:${port}`, `Http://0.0.0.0:${port}`, ` http://0.0.0.0:${port}`, `\thttp://0.0.0.0:${port}/`, `hTtP:0.0.0.0:${port}`];

describe("resolveConfig() controllerUrl spellings", () => {
  for (const url of SPELLINGS(8780)) {
    test(`resolveConfig() refuses ${JSON.stringify(url)} without --insecure`, () => {
      let error: unknown;
      try {
        resolveConfig({ scopes: ["runner"], argv: ["--controller-url", url], env: {} });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe("controllerUrl");
      expect((error as Error).message).toContain("--insecure");
    });
  }

  test("resolveConfig() keeps only the normalized form", () => {
    const { config } = resolveConfig({ scopes: ["runner"], argv: ["--controller-url", " HTTPS://Controller.Example.COM:443/base/"], env: {} });
    expect(config.controllerUrl).toEqual(["https://controller.example.com/base"]);
    const insecure = resolveConfig({ scopes: ["runner"], argv: ["--controller-url", "HTTP://10.0.0.1:8780", "--insecure"], env: {} });
    expect(insecure.config.controllerUrl).toEqual(["http://10.0.0.1:8780"]);
    const loopback = resolveConfig({ scopes: ["runner"], argv: [], env: { EDGE_RUNNER_CONTROLLER_URL: "HTTP://LOCALHOST:8780/" } });
    expect(loopback.config.controllerUrl).toEqual(["http://localhost:8780"]);
  });
});

describe("compiled binary refuses plain http by any spelling", () => {
  let server: Server;
  let port = 0;
  const seen: string[] = [];
  let dir = "";

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "er-sec-url-"));
    writeFileSync(join(dir, "api-key"), "sec-url-api-key-canary\n", { mode: 0o600 });
    writeFileSync(join(dir, "admin-token"), "sec-url-admin-token-canary\n", { mode: 0o600 });
    writeFileSync(join(dir, "b.mjs"), "export default {}\n");
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the binary for at most 15 s; a command that accepted the URL would keep retrying. */
  async function run(args: string[]): Promise<{ code: number | null; output: string }> {
    const proc = start(binary, args, { cwd: dir });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    const code = await proc.exited;
    clearTimeout(timer);
    return { code, output: proc.output() };
  }

  for (const [i, shown] of SPELLINGS(8780).entries()) {
    test(`edge-runner run/job/plugin publish exit 78 on ${JSON.stringify(shown)} and send nothing`, async () => {
      const spelled = SPELLINGS(port)[i]!;
      const common = ["--controller-url", spelled];
      const runner = await run(["run", "--runner-id", "r1", "--api-key-file", "api-key", "--status-port", "0", "--start-jitter", "0", "--data-dir", "data", ...common]);
      expect({ code: runner.code, output: runner.output }).toMatchObject({ code: 78 });
      expect(runner.output).toContain("Refusing plain http controller URL");
      const admin = await run(["job", "list", "--admin-token-file", "admin-token", ...common]);
      expect({ code: admin.code, output: admin.output }).toMatchObject({ code: 78 });
      const publish = await run(["plugin", "publish", "b.mjs", "--admin-token-file", "admin-token", ...common]);
      expect({ code: publish.code, output: publish.output }).toMatchObject({ code: 78 });
      expect(seen).toEqual([]);
    }, 60_000);
  }
});
