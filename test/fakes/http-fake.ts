// The loopback HTTP server under every faithful fake of an API that cannot run here (Vault, GCP,
// GitHub, GitLab, Azure DevOps): routes by method and path pattern (or one handler for all),
// records every request, answers with the API's own headers, optionally late (timeouts) and over
// TLS, and injects faults before routing (a storm of 5xx, rate limiting with the API's own
// headers) so the clients' retries are tested for real.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
  json(): any;
  form(): URLSearchParams;
}

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Answer after this many ms (a client's timeout). */
  delayMs?: number;
}

type Handler = (req: FakeRequest, params: string[]) => FakeReply | Promise<FakeReply>;

export interface Fault {
  /** Which requests it hits (default all). */
  match?: (req: FakeRequest) => boolean;
  /** How many requests it answers before it is spent. */
  times: number;
  reply: (req: FakeRequest) => FakeReply;
  /** Route the request first (the server acted), then answer with the fault: an ambiguous failure. */
  afterHandling?: boolean;
}

export class FakeServer {
  readonly requests: FakeRequest[] = [];
  readonly #routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [];
  readonly #faults: Fault[] = [];
  #server: Server | undefined;
  url = "";

  route(method: string, pattern: RegExp, handler: Handler): this {
    this.#routes.push({ method, pattern, handler });
    return this;
  }

  /** One handler for every method and path (a fake that dispatches itself). */
  any(handler: (req: FakeRequest) => FakeReply | Promise<FakeReply>): this {
    return this.route("*", /^/, (req) => handler(req));
  }

  fault(fault: Fault): void {
    this.#faults.push(fault);
  }

  count(method: string, pattern: RegExp): number {
    return this.requests.filter((r) => r.method === method && pattern.test(r.path)).length;
  }

  /** With `tls`, serves HTTPS at https://localhost (the name a test certificate carries). */
  async start(options: { tls?: { key: string; cert: string } } = {}): Promise<string> {
    const listener = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    this.#server = options.tls === undefined ? createServer(listener) : (createTlsServer(options.tls, listener) as unknown as Server);
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address() as { port: number };
    this.url = options.tls === undefined ? `http://127.0.0.1:${address.port}` : `https://localhost:${address.port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://fake");
    const body = Buffer.concat(chunks).toString("utf8");
    const request: FakeRequest = {
      method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body,
      json: () => JSON.parse(body || "null"),
      form: () => new URLSearchParams(body),
    };
    this.requests.push(request);
    const fault = this.#faults.find((f) => f.times > 0 && (f.match?.(request) ?? true));
    let reply: FakeReply;
    if (fault !== undefined && fault.afterHandling !== true) {
      fault.times--;
      reply = fault.reply(request);
    } else {
      reply = await this.#route(request);
      if (fault !== undefined) {
        fault.times--;
        reply = fault.reply(request);
      }
    }
    const headers: Record<string, string> = { ...reply.headers };
    const text = reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    if (text !== "" && headers["content-type"] === undefined) headers["content-type"] = "application/json; charset=utf-8";
    if (reply.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (res.destroyed) return;
    res.writeHead(reply.status, headers);
    res.end(text);
  }

  async #route(req: FakeRequest): Promise<FakeReply> {
    for (const route of this.#routes) {
      if (route.method !== "*" && route.method !== req.method) continue;
      const match = route.pattern.exec(req.path);
      if (match !== null) {
        try {
          return await route.handler(req, match.slice(1).map(decodeURIComponent));
        } catch (error) {
          return { status: 500, body: { message: `fake failed: ${(error as Error).message}` } };
        }
      }
    }
    return { status: 404, body: { message: "Not Found" } };
  }
}
