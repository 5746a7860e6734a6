// Attaching a session's transport is bounded in time and ends when the runner stops: a controller
// (or a load balancer) that creates sessions and then never answers the attach kept the state
// `connecting` for minutes, and `stop` did not end `run()` (a drain or a stop blocked that long).

import { afterEach, expect, test } from "bun:test";
import net from "node:net";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually } from "../helpers/harness.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const SESSION = JSON.stringify({ v: 1, sessionId: "s1", token: "t1", heartbeatIntervalMs: 60_000, leaseTtlMs: 120_000, pollWaitMs: 25_000 });

/**
 * Creates sessions, then takes every attach (the long-poll probe, the WebSocket upgrade) and never
 * answers it (or answers the probe's headers and never its body, or hangs up).
 */
async function deafController(attach: "silent" | "headers only" | "hang up" = "silent"): Promise<{ url: string; attaches: () => number }> {
  let attaches = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let head = "";
    socket.on("data", (data) => {
      head += data.toString();
      if (!head.includes("\r\n\r\n")) return;
      if (head.startsWith("POST /edge/v1/sessions")) {
        socket.end(`HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: ${SESSION.length}\r\nconnection: close\r\n\r\n${SESSION}`);
      } else {
        attaches++;
        if (attach === "hang up") socket.destroy();
        if (attach === "headers only") socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{");
      }
      head = "";
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, attaches: () => attaches };
}

function connect(url: string, transport: "poll" | "websocket", attachTimeoutMs?: number) {
  const { logger, records } = memoryLogger("debug");
  const connection = new EdgeConnection({
    controllerUrl: url, runnerId: "r1", group: "g", apiKey: "k", version: "t", transport,
    reconnectMinMs: 50, reconnectMaxMs: 100, startJitterMs: 0, logger,
    ...(attachTimeoutMs === undefined ? {} : { attachTimeoutMs }),
  });
  const stop = new AbortController();
  cleanups.push(() => stop.abort());
  let endedAt: number | undefined;
  void connection.run({ signal: stop.signal, onJob: () => {} }).then(() => (endedAt = Date.now()));
  return { connection, records, stop, endedAt: () => endedAt };
}

for (const transport of ["poll", "websocket"] as const) {
  test(`EdgeConnection.run() returns at once when stopped while its ${transport} attach waits for the controller`, async () => {
    const deaf = await deafController();
    const { connection, stop, endedAt } = connect(deaf.url, transport);
    await eventually(() => (deaf.attaches() >= 1 ? true : undefined));
    expect(connection.status().state).toBe("connecting");
    const stoppedAt = Date.now();
    stop.abort();
    await eventually(() => endedAt(), 5_000, "run() returned");
    expect(endedAt()! - stoppedAt).toBeLessThan(1_000);
    expect(connection.status().state).toBe("closed");
  });

  test(`EdgeConnection gives a ${transport} attach the controller does not answer up after its timeout and attaches again`, async () => {
    const deaf = await deafController();
    const { connection } = connect(deaf.url, transport, 300);
    await eventually(() => (deaf.attaches() >= 2 ? true : undefined), 5_000, "a second attach");
    expect(connection.status().lastError).toContain("did not answer");
    expect(connection.status().lastError).toContain("within 300 ms");
  });
}

test("EdgeConnection gives a long-poll attach whose body never comes up after its timeout and attaches again", async () => {
  const deaf = await deafController("headers only");
  const { connection } = connect(deaf.url, "poll", 300);
  await eventually(() => (deaf.attaches() >= 2 ? true : undefined), 5_000, "a second attach");
  expect(connection.status().lastError).toContain("did not answer within 300 ms");
});

test("EdgeConnection says why a long-poll attach failed when it was not the deadline (the controller hung up)", async () => {
  const deaf = await deafController("hang up");
  const { connection } = connect(deaf.url, "poll", 5_000);
  await eventually(() => (deaf.attaches() >= 1 && connection.status().lastError !== undefined ? true : undefined), 5_000, "a failed attach");
  expect(connection.status().lastError).toContain("Cannot attach long-poll transport");
  expect(connection.status().lastError).not.toContain("did not answer");
});
