// Doctor check: the controller is reachable, step by step (DNS, TCP, HTTP), so the failure names
// the layer to fix; with a list of replica URLs each of them (one down warns, all down fails).
// TLS is not judged here (see tls.ts): this probe sends nothing secret.

import { lookup } from "node:dns/promises";
import { connect, isIP } from "node:net";
import { errorMessage } from "../../../errors.ts";
import type { CheckResult, DoctorCheck } from "../check.ts";
import { httpRequestText } from "../http-request.ts";
import { publicUrl } from "../../../config/url.ts";

export const controllerReachableCheck: DoctorCheck = {
  id: "controller-reachable",
  title: "controller reachable",
  needs: ["config"],
  async run(ctx) {
    const urls = ctx.state.config!.controllerUrl;
    const results = await Promise.all(urls.map((base) => probe(base, ctx.timeoutMs)));
    if (results.length === 1) return results[0] as CheckResult;
    // Replicas: the runner works while one answers, so a partial outage warns; none fails.
    const failed = results.map((result, i) => ({ result, url: publicUrl(urls[i] as string) })).filter((r) => r.result.status !== "pass");
    const notes = results.map((result, i) => `${publicUrl(urls[i] as string)}: ${result.summary}`);
    if (failed.length === 0) return { status: "pass", summary: `all ${urls.length} controller URLs answered`, notes };
    const first = failed[0] as { result: CheckResult; url: string };
    const status = failed.length === urls.length ? "fail" : "warn";
    return {
      status,
      summary: `${urls.length - failed.length} of ${urls.length} controller URLs answered; ${first.url}: ${first.result.summary}`,
      ...(first.result.fix === undefined ? {} : { fix: first.result.fix }),
      notes,
    };
  },
};

/** DNS, then TCP, then any HTTP answer from one controller URL. */
async function probe(base: string, timeoutMs: number): Promise<CheckResult> {
  const url = new URL(base);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  let address = host;
  if (isIP(host) === 0) {
    try {
      address = (await withTimeout(lookup(host), timeoutMs, "DNS lookup")).address;
    } catch (error) {
      return { status: "fail", summary: `DNS: cannot resolve "${host}": ${errorMessage(error)}`, fix: `check the host name in "controllerUrl" (${publicUrl(base)}) and the resolver (/etc/resolv.conf)` };
    }
  }
  try {
    await tcpConnect(address, port, timeoutMs);
  } catch (error) {
    const refused = (error as NodeJS.ErrnoException).code === "ECONNREFUSED";
    return {
      status: "fail",
      summary: `TCP: cannot connect to ${address}:${port}: ${errorMessage(error)}`,
      fix: refused ? `nothing listens there: start the controller or correct the port in "controllerUrl"` : `allow outbound TCP from this host to ${host}:${port} (firewall, proxy, routing)`,
    };
  }
  try {
    const answer = await httpRequestText({ url: `${base}/`, verifyTls: false, timeoutMs });
    return { status: "pass", summary: `"${host}" → ${address}, TCP port ${port} open, HTTP answered ${answer.status}` };
  } catch (error) {
    return { status: "fail", summary: `HTTP: ${publicUrl(base)} accepted TCP but gave no HTTP answer: ${errorMessage(error)}`, fix: `check that "controllerUrl" points at the controller (scheme ${url.protocol.slice(0, -1)}, port ${port})` };
  }
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("timeout", () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    });
    socket.once("error", reject);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
