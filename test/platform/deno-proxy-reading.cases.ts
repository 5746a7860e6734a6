// One case for deno-proxy-reading.test.ts, run on Deno from the Node bundle: a server on
// CASE_PORT (every address), one outboundFetch() to CASE_URL (on Deno, Deno's own fetch, which
// reads the proxy variables itself), and what the runner's rule says about that URL.

import { createServer } from "node:http";
import { outboundFetch } from "../../src/platform/outbound-fetch.ts";
import { proxyFor } from "../../src/platform/proxy.ts";

const server = createServer((_req, res) => res.end("answered"));
await new Promise<void>((resolve) => server.listen(Number(process.env.CASE_PORT), "::", resolve));
const url = String(process.env.CASE_URL);
let answer: string;
try {
  answer = await (await outboundFetch(url)).text();
} catch (error) {
  answer = `failed: ${(error as Error).message}`;
}
process.stdout.write(`${JSON.stringify({ rule: proxyFor(url) === undefined ? "direct" : "proxy", answer })}\n`, () => process.exit(0));
