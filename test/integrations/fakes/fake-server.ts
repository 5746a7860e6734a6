// A small HTTP server for the fakes of GitHub, GitLab and Azure DevOps: routes by method and
// path pattern, records every request, and injects faults before routing (a storm of 5xx, rate
// limiting with the API's own headers) so the integrations' retries are tested for real.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

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

  fault(fault: Fault): void {
    this.#faults.push(fault);
  }

  count(method: string, pattern: RegExp): number {
    return this.requests.filter((r) => r.method === method && pattern.test(r.path)).length;
  }

  async start(): Promise<string> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}`;
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
    res.writeHead(reply.status, headers);
    res.end(text);
  }

  async #route(req: FakeRequest): Promise<FakeReply> {
    for (const route of this.#routes) {
      if (route.method !== req.method) continue;
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
