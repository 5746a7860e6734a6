// The HTTP client node-vault sends its calls through (its `request-promise` hook), in place of
// its own axios one: node:http/https with the runner's settings and nothing else. axios would
// follow a redirect and send X-Vault-Token to whatever host the Location names, read an answer
// of any size into memory, and take TLS leniency from VAULT_SKIP_VERIFY. Here a redirect is
// answered as what it is (a 3xx the backend refuses), an answer is cut off past `maxBytes`, and
// the whole call, body included, has one deadline.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { EdgeError } from "../../errors.ts";

export interface VaultTransportOptions {
  /** PEM bundle trusted instead of the system roots (vaultCaFile). */
  caPem?: string;
  timeoutMs: number;
  maxBytes: number;
}

/** The shape node-vault's request hook is called with (a subset of request-promise's). */
interface VaultRequest {
  method: string;
  uri: string;
  headers?: Record<string, string | undefined>;
  json?: unknown;
}

export interface VaultAnswer {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

export type VaultSend = (request: VaultRequest) => Promise<VaultAnswer>;

/** The object node-vault takes as `config["request-promise"]`; its defaults are ignored on purpose. */
export function vaultTransport(options: VaultTransportOptions): { defaults(ignored: unknown): VaultSend } {
  const send: VaultSend = (request) => sendOnce(request, options);
  return { defaults: () => send };
}

function sendOnce(request: VaultRequest, options: VaultTransportOptions): Promise<VaultAnswer> {
  const url = new URL(request.uri);
  const tls = url.protocol === "https:";
  const body = request.json !== undefined && typeof request.json === "object" ? JSON.stringify(request.json) : undefined;
  const headers: Record<string, string> = { accept: "application/json" };
  for (const [name, value] of Object.entries(request.headers ?? {})) if (typeof value === "string") headers[name] = value;
  if (body !== undefined) {
    headers["content-type"] ??= "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  return new Promise<VaultAnswer>((resolve, reject) => {
    const send = tls ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: request.method,
        headers,
        // Never lenient, whatever VAULT_SKIP_VERIFY or NODE_TLS_REJECT_UNAUTHORIZED say.
        ...(tls ? { rejectUnauthorized: true, ...(options.caPem === undefined ? {} : { ca: options.caPem }) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        res.on("data", (chunk: Buffer) => {
          received += chunk.byteLength;
          if (received > options.maxBytes) {
            req.destroy(new EdgeError("secret_corrupt", `Vault's answer is over ${options.maxBytes} bytes; refused`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(deadline);
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text === "" ? undefined : JSON.parse(text);
          } catch {
            // Not Vault's JSON (a proxy's page): nothing of it is shown.
            parsed = undefined;
          }
          resolve({ statusCode: res.statusCode ?? 0, body: parsed, request: { path: url.pathname } });
        });
        res.on("error", fail);
      },
    );
    function fail(error: unknown): void {
      clearTimeout(deadline);
      reject(error);
    }
    const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: "ETIMEDOUT" })), options.timeoutMs);
    req.on("error", fail);
    req.end(body);
  });
}
