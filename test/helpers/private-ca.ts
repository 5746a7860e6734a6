// A private CA and a server certificate it signed for localhost and 127.0.0.1, made with openssl
// in `dir` (a self-signed leaf used as its own CA is refused by rustls on Deno: "CaUsedAsEndEntity").

import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** `names`: more DNS names for the server certificate (a host only a test proxy resolves). */
export function makePrivateCa(dir: string, names: readonly string[] = []): { caFile: string; certFile: string; keyFile: string } {
  const caFile = path.join(dir, "ca.pem");
  const caKey = path.join(dir, "ca-key.pem");
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  const csrFile = path.join(dir, "cert.csr");
  const extFile = path.join(dir, "ext.cnf");
  writeFileSync(extFile, `subjectAltName=${["DNS:localhost", ...names.map((n) => `DNS:${n}`), "IP:127.0.0.1"].join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  const openssl = (args: string[]) => {
    const made = spawnSync("openssl", args, { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`openssl ${args[0]} failed: ${made.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=edge-runner test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", caKey, "-out", caFile]);
  openssl(["req", ...ec, "-subj", "/CN=localhost", "-keyout", keyFile, "-out", csrFile]);
  openssl(["x509", "-req", "-in", csrFile, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", extFile, "-out", certFile]);
  chmodSync(keyFile, 0o600);
  return { caFile, certFile, keyFile };
}
