// Issue 8 item 6: credentials and query strings in a URL never reach a log line, the status page,
// /status or an error message. One function (publicUrl in src/config/url.ts) strips them.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publicUrl, stripUrlCredentials } from "../../src/config/url.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { assertBuilt, FLAVOURS, start, STATUS_URL, waitForOutput } from "../helpers/processes.ts";

const USER = "canaryuser7f3";
const PASSWORD = "canarypass9d1";
const QUERY = "canaryquery2b8";

describe("publicUrl()", () => {
  test("publicUrl() drops user, password, query and fragment", () => {
    expect(publicUrl(`https://${USER}:${PASSWORD}@controller.example.com:8443/base/?token=${QUERY}#${QUERY}`)).toBe("https://controller.example.com:8443/base");
    expect(publicUrl("not a url")).toBe("(invalid URL)");
  });
});

describe("stripUrlCredentials() and the logger", () => {
  test("stripUrlCredentials() drops user:pass@ from URLs inside text and leaves the rest", () => {
    expect(stripUrlCredentials(`error sending request for url (https://${USER}:${PASSWORD}@c.example/x): refused`)).toBe("error sending request for url (https://c.example/x): refused");
    expect(stripUrlCredentials("mail ada@example.com about postgres://u@db/x")).toBe("mail ada@example.com about postgres://db/x");
  });

  test("Logger never writes URL credentials, in the message or in any field", () => {
    const { logger, records } = memoryLogger();
    logger.warn(`Cannot reach http://${USER}:${PASSWORD}@127.0.0.1:1/`, { error: `fetch http://${USER}:${PASSWORD}@h/ failed`, nested: { urls: [`https://${USER}@h`] } });
    const line = JSON.stringify(records);
    expect(line).not.toContain(USER);
    expect(line).not.toContain(PASSWORD);
    expect(records[0]?.msg).toBe("Cannot reach http://127.0.0.1:1/");
  });
});

describe("compiled binary never shows URL credentials", () => {
  let server: Server;
  let dir = "";
  let port = 0;

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "er-sec-cred-"));
    writeFileSync(join(dir, "api-key"), "sec-cred-api-key\n", { mode: 0o600 });
    // A controller that refuses everything: the runner logs its failures, with the URL if it would.
    server = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("edge-runner run logs, /status and the page carry no user:pass@ or query", async () => {
    const url = `http://${USER}:${PASSWORD}@127.0.0.1:${port}/?token=${QUERY}`;
    const proc = start(FLAVOURS[0]!, ["run", "--runner-id", "r1", "--api-key-file", "api-key", "--status-port", "0", "--start-jitter", "0", "--reconnect-min", "50ms", "--reconnect-max", "100ms", "--data-dir", "data", "--controller-url", url], { cwd: dir });
    try {
      const status = await waitForOutput(proc, STATUS_URL);
      // Two failed attempts (the wording differs before and after a first connection).
      await waitForOutput(proc, /(Cannot connect to the controller|Controller connection lost)[\s\S]*(Cannot connect to the controller|Controller connection lost)/);
      const doc = await (await fetch(`${status}/status`)).text();
      const page = await (await fetch(`${status}/`)).text();
      const metrics = await (await fetch(`${status}/metrics`)).text();
      for (const [where, text] of Object.entries({ log: proc.output(), status: doc, page, metrics })) {
        for (const canary of [USER, PASSWORD, QUERY]) expect({ where, leaked: text.includes(canary) }).toEqual({ where, leaked: false });
      }
      expect(JSON.parse(doc).controllerUrl).toBe(`http://127.0.0.1:${port}`);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }, 60_000);
});
