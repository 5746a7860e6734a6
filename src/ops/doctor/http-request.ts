// One HTTP(S) request with node:http/https (on Bun, Node and Deno alike) because the doctor needs
// what fetch() does not offer everywhere: an extra CA, and a TLS-lenient mode for reachability.

import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";

export interface HttpRequestOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Extra CA PEM trusted besides the system roots. */
  caPem?: string;
  /** False only for the reachability probe, which sends nothing secret. */
  verifyTls?: boolean;
  timeoutMs: number;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** At most 64 KiB of the body. */
  body: string;
}

const MAX_BODY = 64 * 1024;

export function httpRequestText(options: HttpRequestOptions): Promise<HttpAnswer> {
  const url = new URL(options.url);
  const tls = url.protocol === "https:";
  const send = tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: options.method ?? "GET",
        headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
        timeout: options.timeoutMs,
        ...(tls ? { rejectUnauthorized: options.verifyTls !== false, ...(options.caPem === undefined ? {} : { ca: [...rootCertificates, options.caPem] }) } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        const answer = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        res.on("data", (chunk: string) => {
          body += chunk.slice(0, MAX_BODY - body.length);
          // Stop reading at the cap: `timeout` is an idle timeout, so an endless body never ends otherwise.
          if (body.length >= MAX_BODY) {
            answer();
            res.destroy();
          }
        });
        res.on("end", answer);
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(options.body);
  });
}
