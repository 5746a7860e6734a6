// A small HTTP forward proxy on 127.0.0.1:0 for tests: CONNECT is answered by piping to the
// target, a plain-HTTP request with an absolute URI is forwarded; every request is recorded
// (method, target, Proxy-Authorization), so a test can say what went through it and what did not.

import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** "host:port" for CONNECT, the absolute URI otherwise. */
  target: string;
  proxyAuthorization: string | undefined;
}

export interface ForwardProxyOptions {
  /** When set, a request without `Proxy-Authorization: Basic base64(user:pass)` of these is answered 407. */
  credentials?: { user: string; pass: string };
  /** Answer every CONNECT with this status (403, 407, 502) instead of opening the tunnel. */
  refuseConnect?: number;
  /**
   * Names only the proxy resolves (name → address): a client can reach such a host through the
   * proxy and not directly, so a test sees which way it went.
   */
  hosts?: Readonly<Record<string, string>>;
}

export interface ForwardProxy {
  url: string;
  port: number;
  requests: ProxiedRequest[];
  /** CONNECT targets and absolute URIs seen, in order. */
  targets(): string[];
  /** Clients' connections to the proxy still open (a tunnel is one): a client that leaves them open leaks. */
  openConnections(): number;
  close(): Promise<void>;
}

export async function startForwardProxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  const expected = options.credentials === undefined ? undefined : `Basic ${Buffer.from(`${options.credentials.user}:${options.credentials.pass}`).toString("base64")}`;
  const authorized = (req: IncomingMessage) => expected === undefined || req.headers["proxy-authorization"] === expected;

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", target: req.url ?? "", proxyAuthorization: req.headers["proxy-authorization"] });
    if (!authorized(req)) {
      res.writeHead(407, { "proxy-authenticate": 'Basic realm="test"' }).end();
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("absolute URI expected");
      return;
    }
    const address = options.hosts?.[target.hostname];
    if (address !== undefined) target.hostname = address;
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    // The client ended the tunnel: its connection is over, even when the target never closes its
    // side (a half-open socket left here would be counted by openConnections() as the client's leak).
    client.on("end", () => client.destroy());
    requests.push({ method: "CONNECT", target: req.url ?? "", proxyAuthorization: req.headers["proxy-authorization"] });
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (options.refuseConnect !== undefined) {
      client.end(`HTTP/1.1 ${options.refuseConnect} Refused\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const [name, port] = splitHostPort(req.url ?? "");
    const host = options.hosts?.[name] ?? name;
    const upstream = connect(port, host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => { sockets.delete(upstream); client.destroy(); });
    upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"));
  });
  server.on("upgrade", (req: IncomingMessage, client: Socket) => {
    // A WebSocket sent to the proxy as a plain request (ws://, no CONNECT): recorded, refused.
    requests.push({ method: `${req.method ?? ""} (upgrade)`, target: req.url ?? "", proxyAuthorization: req.headers["proxy-authorization"] });
    client.end("HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n");
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    clients.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      clients.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    targets: () => requests.map((r) => r.target),
    openConnections: () => clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function splitHostPort(authority: string): [string, number] {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(authority);
  if (match === null) return [authority, 443];
  return [match[1] ?? authority, Number(match[2])];
}
