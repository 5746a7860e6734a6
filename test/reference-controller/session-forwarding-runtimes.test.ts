// The WebSocket relay between replicas as the product runs it: two controller processes on one
// PostgreSQL database, as the compiled binary (Bun's WebSocket client with headers), the bundle on
// Node (the `ws` client: Node 20 has no global WebSocket) and on Deno, in plain HTTP and behind
// TLS with a private CA (advertised https:// URLs, the hop over wss:// trusting the CA through
// NODE_EXTRA_CA_CERTS, or DENO_CERT on Deno). A session created on A is attached through B; credit
// and an offer, accept, result and its ack cross the relay; A stopping closes the relayed socket
// with A's close code. session-forwarding.test.ts covers the rules.

import { afterEach, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { assertBuilt, CONTROLLER_URL, FLAVOURS, start, waitForOutput, type Proc } from "../helpers/processes.ts";
import { eventually, tempDir } from "../helpers/harness.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";
import { forEachStore } from "../helpers/stores.ts";

const procs: Proc[] = [];
const dirs: Array<{ remove: () => void }> = [];
afterEach(async () => {
  for (const proc of procs.splice(0)) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  for (const dir of dirs.splice(0)) dir.remove();
});

forEachStore("WebSocket attach relayed between replica processes", (store) => {
  for (const flavour of FLAVOURS) for (const tls of [false, true]) {
    const untrusted = tls ? "; a replica that does not trust the CA refuses the hop (404)" : "";
    test(`${flavour.name}${tls ? " behind TLS" : ""}: an attach that reaches B is relayed to A, frames cross both ways, and A stopping closes it with 1001${untrusted}`, async () => {
      assertBuilt();
      const options = await store.options();
      const dir = tempDir();
      dirs.push(dir);
      const admin = randomBytes(24).toString("base64url");
      fs.writeFileSync(path.join(dir.dir, "admin-token"), admin, { mode: 0o600 });
      fs.writeFileSync(path.join(dir.dir, "secrets.key"), randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
      const ca = tls ? makePrivateCa(dir.dir) : undefined;
      // This test process trusts the CA per request (Bun's `tls.ca`), the replicas through the environment.
      const trust = ca === undefined ? {} : { tls: { ca: fs.readFileSync(ca.caFile, "utf8") } };
      const replica = async (name: string, trustsCa = true): Promise<{ proc: Proc; url: string }> => {
        const proc = start(flavour, [
          "controller", "--data-dir", path.join(dir.dir, name), "--listen-port", "0",
          "--store-url", options.storeUrl as string, "--store-password-file", store.server?.passwordFile as string,
          "--admin-token-file", path.join(dir.dir, "admin-token"), "--secrets-key-file", path.join(dir.dir, "secrets.key"),
          ...(ca === undefined ? [] : ["--tls-cert-file", ca.certFile, "--tls-key-file", ca.keyFile]),
        ], ca === undefined || !trustsCa ? {} : { env: { NODE_EXTRA_CA_CERTS: ca.caFile, DENO_CERT: ca.caFile } });
        procs.push(proc);
        const url = await waitForOutput(proc, CONTROLLER_URL, 30_000);
        expect(url).toStartWith(tls ? "https://" : "http://");
        return { proc, url };
      };
      const a = await replica("a");
      const b = await replica("b");
      const call = async (base: string, route: string, token: string, body?: unknown) => {
        const response = await fetch(`${base}${route}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          ...trust,
        } as RequestInit);
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      for (const replica of [a, b]) await eventually(async () => ((await call(replica.url, "/api/v1/health", admin).catch(() => undefined))?.status === 200 ? true : undefined), 30_000, `${replica.url} healthy`);
      const registered = await call(a.url, "/api/v1/runners", admin, { id: "r1" });
      expect(registered.status).toBe(201);
      const created = await call(a.url, "/edge/v1/sessions", registered.body.apiKey as string, { v: 1, runnerId: "r1", group: "default", version: "test", transport: "websocket" });
      expect(created.status).toBe(201);
      const { sessionId, token } = created.body as { sessionId: string; token: string };

      const Ws = WebSocket as unknown as new (url: string, init?: unknown) => WebSocket;
      if (ca !== undefined) {
        // The hop verifies the owner's certificate: a replica that does not trust the CA answers
        // the attach 404 (never opened) and logs why, and the token stays unused for B.
        const c = await replica("c", false);
        const refused = new Ws(`${c.url.replace(/^http/, "ws")}/edge/v1/sessions/${sessionId}/ws?token=${token}`, trust);
        const outcome = await new Promise<string>((resolve) => {
          refused.onopen = () => resolve("opened");
          refused.onclose = () => resolve("closed");
        });
        expect(outcome).toBe("closed");
        await waitForOutput(c.proc, /Cannot reach the replica holding a session/, 15_000);
        expect(c.proc.output()).not.toContain(token);
        c.proc.kill("SIGTERM");
      }
      const ws = new Ws(`${b.url.replace(/^http/, "ws")}/edge/v1/sessions/${sessionId}/ws?token=${token}`, ca === undefined ? undefined : trust);
      const got: Array<Record<string, unknown>> = [];
      let closed: { code: number; reason: string } | undefined;
      ws.onmessage = (event) => {
        const value = JSON.parse(String(event.data)) as Record<string, unknown> | Array<Record<string, unknown>>;
        got.push(...(Array.isArray(value) ? value : [value]));
      };
      ws.onclose = (event) => (closed = { code: event.code, reason: event.reason });
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`The attach through B failed; B said:\n${b.proc.output().slice(-2000)}`));
      });
      ws.send(JSON.stringify({ v: 1, type: "credit", slots: 1 }));
      const submitted = await call(b.url, "/api/v1/jobs", admin, { plugin: "echo", input: { n: 1 } });
      expect(submitted.status).toBe(201);
      const jobId = submitted.body.id as string;
      await eventually(() => got.find((m) => m.type === "offer"), 15_000, "the offer through B");
      ws.send(JSON.stringify([
        { v: 1, type: "accept", jobId, attempt: 1 },
        { v: 1, type: "result", jobId, attempt: 1, lastSeq: 0, status: "succeeded", output: { via: flavour.name }, startedAt: 1, finishedAt: 2 },
      ]));
      expect(await eventually(() => got.find((m) => m.type === "result_ack"), 15_000, "the result's ack through B")).toMatchObject({ jobId, accepted: true });
      // A acknowledged it once durable; B hears of it a moment later (LISTEN), so ask A.
      expect((await call(a.url, `/api/v1/jobs/${jobId}`, admin)).body).toMatchObject({ status: "succeeded", output: { via: flavour.name } });

      // A's close code passes through B (its reason is A's runtime's: Deno's server says its own).
      a.proc.kill("SIGTERM");
      expect((await eventually(() => closed, 15_000, "the relayed socket closed")).code).toBe(1001);
    }, 90_000);
  }
}, ["postgres"]);
