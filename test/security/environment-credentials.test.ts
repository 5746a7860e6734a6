// Credentials the runner takes from its environment for its own use must be masked like the ones
// it reads from files (issue 8 item 2): the S3 default credential chain (AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, shared files, instance roles) is registered with the runner's redaction as
// the SDK resolves it (failed before). VAULT_TOKEN is not used since ef21ad2 (vault-transport.ts);
// the GCP backend reads only its configured key file, never GOOGLE_APPLICATION_CREDENTIALS.

import { afterEach, expect, test } from "bun:test";
import { createServer } from "node:http";
import { redactor } from "../../src/log/redact.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { s3Options } from "../../src/storage/open-store.ts";

const saved = { ...process.env };
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

test("the S3 default chain's secret key and session token are masked once the runner uses them", async () => {
  const secretKey = "envSecretKey/7Hq2Lx9Vb3Kd+Wm4Pz8RtAbCdEfGh";
  const sessionToken = "envSessionToken-Qm3Nx8Zr2Kp5Vt9Ly4Hs7Jd1Fg6";
  process.env.AWS_ACCESS_KEY_ID = "AKIAENVCHAINTEST0001";
  process.env.AWS_SECRET_ACCESS_KEY = secretKey;
  process.env.AWS_SESSION_TOKEN = sessionToken;
  // Any answer will do: the request is signed (credentials resolved) before it is sent.
  const server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  closers.push(() => void server.close());
  const port = (server.address() as { port: number }).port;
  const options = s3Options({ dataDir: "/tmp", storageBackend: "s3", storageMaxObjectBytes: 1, storageMaxJobBytes: 1, storageSweepGraceMs: 1, storageSweepIntervalMs: 1, s3Bucket: "env-chain", s3Region: "us-east-1", s3Endpoint: `http://127.0.0.1:${port}`, s3ForcePathStyle: true, s3Sse: "none", s3PartSizeBytes: 5 * 1024 * 1024 } as Parameters<typeof s3Options>[0]);
  const store = createS3Store({ ...options, requestTimeoutMs: 2000 });
  await store.head("probe").catch(() => undefined);
  expect(redactor.text(`key ${secretKey} token ${sessionToken}`)).toBe("key [REDACTED] token [REDACTED]");
});
