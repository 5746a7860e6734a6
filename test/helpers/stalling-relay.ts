// A TCP relay in front of a server (s3rver) that can stop answering while its connections stay
// open: a frozen store, a black-holed VPC endpoint.

import { createServer, connect, type Server, type Socket } from "node:net";

/** A TCP relay to s3rver that, while `stalled`, swallows what clients send and answers nothing. */
export class StallingRelay {
  stalled = false;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(upstreamPort: number) {
    this.#server = createServer((client) => {
      const upstream = connect(upstreamPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => this.#sockets.delete(s));
      }
      client.on("data", (chunk) => { if (!this.stalled) upstream.write(chunk); });
      upstream.on("data", (chunk) => { if (!this.stalled) client.write(chunk); });
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", () => {
      this.port = (this.#server.address() as { port: number }).port;
      resolve();
    }));
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
