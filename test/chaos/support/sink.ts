// The side effect every chaos job performs: the `http` plugin calls this loopback server, which
// counts executions per job nonce (and when each started) and holds its answer `ms` long so
// jobs take time. Executions per job are how re-runs are counted.

export interface Execution {
  at: number;
}

export class Sink {
  readonly executions = new Map<string, Execution[]>();
  readonly #server: ReturnType<typeof Bun.serve>;

  constructor(options: { idleTimeoutSec?: number } = {}) {
    this.#server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      // A job holds its call open as long as it runs (up to 45 s in the full outage run); Bun's
      // default idle timeout (10 s) would cut it and fail the job.
      idleTimeout: options.idleTimeoutSec ?? 255,
      fetch: async (request) => {
        const url = new URL(request.url);
        const nonce = url.searchParams.get("n") ?? "";
        const ms = Number(url.searchParams.get("ms") ?? "0");
        const list = this.executions.get(nonce) ?? [];
        list.push({ at: Date.now() });
        this.executions.set(nonce, list);
        if (ms > 0) await Bun.sleep(ms);
        return Response.json({ nonce, done: true });
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.port}`;
  }

  /** The input of a job that calls this sink once and takes `ms`. */
  input(nonce: string, ms: number): { url: string; method: string } {
    return { url: `${this.url}/run?n=${encodeURIComponent(nonce)}&ms=${ms}`, method: "GET" };
  }

  stop(): void {
    this.#server.stop(true);
  }
}
