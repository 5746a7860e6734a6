// Secrets on the job path: decrypting a job's encrypted input (RSA-4096 JWE) per job, beside the
// bare RSA-4096 OAEP decryption it cannot beat; and the cost of redacting 1 MiB of log with 10
// and with 1,000 live secrets, and with 10 live secrets after 1,000 jobs' secrets have come and
// gone (it must equal the 10-secret figure), beside a floor of one substring scan per line.

import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from "node:crypto";
import { decryptInputSecrets } from "../../src/secrets/input-secrets.ts";
import { encryptToRunner } from "../../src/secrets/jwe.ts";
import { RunnerKeyRing, ringKeyOf } from "../../src/secrets/key-ring.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { median } from "./stats.ts";

export interface SecretsBench {
  jweDecryptMs: number;
  rsaFloorMs: number;
  redact10Ms: number;
  redact1000Ms: number;
  redact10AfterFinishedMs: number;
  scanFloorMs: number;
}

function logMiB(): string[] {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < 1024 * 1024; i++) {
    const line = `2026-11-30T21:00:00.000Z INFO step ${i}: fetched ${i * 7} objects from bucket-${i % 13} in ${(i % 97) / 10} s`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines;
}

function timeLines(lines: string[], each: (line: string) => unknown, rounds: number): number {
  const samples: number[] = [];
  // One untimed round first, so the first case measured does not pay for the JIT's warm-up.
  for (const line of lines) each(line);
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (const line of lines) each(line);
    samples.push(performance.now() - start);
  }
  return median(samples);
}

export async function secretsBench(options: { jobs: number; rounds: number }): Promise<SecretsBench> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 4096 });
  const ring = new RunnerKeyRing("(memory)", [ringKeyOf(privateKey.export({ type: "pkcs8", format: "pem" }) as string, true, "(memory)")]);
  const jwk = ring.publicJwks()[0]!;
  const input = { db: { password: { $secret: await encryptToRunner(randomBytes(24).toString("base64"), jwk) } }, region: "eu-west-1" };
  const jwe: number[] = [];
  const floor: number[] = [];
  const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, randomBytes(32));
  for (let i = 0; i < options.jobs; i++) {
    const scope = new RedactionScope();
    let start = performance.now();
    await decryptInputSecrets(input, ring, scope);
    jwe.push(performance.now() - start);
    start = performance.now();
    privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, wrapped);
    floor.push(performance.now() - start);
  }

  const lines = logMiB();
  const secret = () => randomBytes(18).toString("base64url");
  const process = new RedactionScope();
  process.add(secret());
  const jobScope = (count: number) => {
    const scope = process.child("bench");
    for (let i = 0; i < count; i++) scope.add(secret());
    return scope;
  };
  const ten = jobScope(10);
  const redact10Ms = timeLines(lines, (line) => ten.line(line), options.rounds);
  ten.dispose();
  const thousand = jobScope(1000);
  const redact1000Ms = timeLines(lines, (line) => thousand.line(line), options.rounds);
  thousand.dispose();
  // 1,000 jobs with 10 secrets each come and go; then a job with 10 secrets redacts the same log.
  for (let i = 0; i < 1000; i++) jobScope(10).dispose();
  const after = jobScope(10);
  const redact10AfterFinishedMs = timeLines(lines, (line) => after.line(line), options.rounds);
  after.dispose();
  const absent = secret();
  const scanFloorMs = timeLines(lines, (line) => line.includes(absent), options.rounds);
  return { jweDecryptMs: median(jwe), rsaFloorMs: median(floor), redact10Ms, redact1000Ms, redact10AfterFinishedMs, scanFloorMs };
}
