// Doctor check: the controller's TLS certificate is valid for its host name with the system
// roots plus `caFile`, the way the runner connects. Plain http (loopback only) is skipped.

import { checkServerIdentity, connect, rootCertificates, type PeerCertificate } from "node:tls";
import { isIP } from "node:net";
import { errorMessage } from "../../../errors.ts";
import type { CheckResult, DoctorCheck } from "../check.ts";
import { primaryControllerUrl } from "../../../config/resolve.ts";
import { MAX_CONFIG_FILE_BYTES } from "../../../config/read-config-text.ts";
import { readTextFileBounded } from "../../../util/read-file-bounded.ts";
import { pemCertificatesProblem } from "../../../util/pem-certificates.ts";

const SOON_MS = 14 * 86_400_000;

export const tlsCheck: DoctorCheck = {
  id: "tls",
  title: "TLS",
  needs: ["controller-reachable"],
  async run(ctx) {
    const config = ctx.state.config!;
    const url = new URL(primaryControllerUrl(config));
    if (url.protocol !== "https:") return { status: "skip", summary: `plain http to ${url.host}: no TLS to check` };
    if (config.caFile !== undefined) {
      try {
        ctx.state.caPem = await readTextFileBounded(config.caFile, MAX_CONFIG_FILE_BYTES);
      } catch (error) {
        return { status: "fail", summary: `cannot read "caFile" "${config.caFile}": ${errorMessage(error)}`, fix: `correct "caFile" or make it readable by the runner's user` };
      }
      // The rule `run` applies at start (src/config/ca-bundle.ts), so the doctor fails what run would refuse.
      const problem = pemCertificatesProblem(ctx.state.caPem);
      if (problem !== undefined) {
        return { status: "fail", summary: `cannot use "caFile" "${config.caFile}": ${problem}`, fix: "put only the issuing CA's certificates in PEM form (-----BEGIN CERTIFICATE-----) there" };
      }
    }
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port || 443);
    return inspect(host, port, ctx.state.caPem, config.caFile, ctx.timeoutMs);
  },
};

function inspect(host: string, port: number, caPem: string | undefined, caFile: string | undefined, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(caPem === undefined ? {} : { ca: [...rootCertificates, caPem] }),
      // Judge the chain ourselves below, to say why it fails instead of just failing.
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const done = (result: CheckResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.once("secureConnect", () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      const subject = cert.subject?.CN ?? "(no CN)";
      const issuer = cert.issuer?.CN ?? "(no CN)";
      if (!socket.authorized) {
        const reason = String(socket.authorizationError ?? "untrusted");
        const untrusted = /ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY|UNTRUSTED/.test(reason);
        return done({
          status: "fail",
          summary: `certificate "${subject}" issued by "${issuer}" is not trusted: ${reason}`,
          fix: untrusted ? `set "caFile" to the PEM of the CA that issued it${caFile === undefined ? "" : ` (now "${caFile}")`}` : `renew or replace the controller's certificate`,
        });
      }
      const mismatch = checkServerIdentity(host, cert);
      if (mismatch !== undefined) {
        return done({ status: "fail", summary: `certificate "${subject}" is not valid for "${host}": ${mismatch.message}`, fix: `use the host name the certificate names in "controllerUrl", or reissue it with "${host}"` });
      }
      const expires = Date.parse(cert.valid_to);
      const notes = expires - Date.now() < SOON_MS ? [`expires soon: ${cert.valid_to}`] : [];
      done({ status: "pass", summary: `certificate "${subject}" issued by "${issuer}", valid until ${cert.valid_to}`, notes });
    });
    socket.once("timeout", () => done({ status: "fail", summary: `no TLS handshake within ${timeoutMs} ms`, fix: `check that ${host}:${port} speaks TLS (not plain http)` }));
    socket.once("error", (error) => done({ status: "fail", summary: `TLS handshake with ${host}:${port} failed: ${errorMessage(error)}`, fix: `check that ${host}:${port} speaks TLS, or use http:// for a loopback controller` }));
  });
}
