// Secrets the controller hands out (runner API keys, session tokens, the admin token): random,
// stored only as SHA-256, and compared in constant time.

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { readSecretFile } from "../config/secret-file.ts";
import { createFileOnce } from "../util/create-file-once.ts";

/** 32 random bytes, base64url. */
export function randomToken(): string {
  return crypto.randomBytes(32).toString("base64url");
}

/**
 * The one-shot `crypto.hash()` (Bun, Node ≥ 20.12) where the runtime has it: every admin request
 * hashes its bearer token, and the Hash object's stream plumbing was ~half of that (issue 15).
 */
const oneShot = (crypto as unknown as { hash?: (algorithm: string, data: string, encoding: "hex" | "buffer") => string | Buffer }).hash;

export function sha256Hex(secret: string): string {
  return oneShot === undefined ? crypto.createHash("sha256").update(secret, "utf8").digest("hex") : (oneShot("sha256", secret, "hex") as string);
}

function sha256(secret: string): Buffer {
  return oneShot === undefined ? crypto.createHash("sha256").update(secret, "utf8").digest() : (oneShot("sha256", secret, "buffer") as Buffer);
}

/** Compares a presented secret with a stored hash without leaking where they differ. */
export function matchesHash(presented: string | undefined, storedHash: string): boolean {
  if (presented === undefined || presented === "") return false;
  const a = sha256(presented);
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The bearer token of an `Authorization` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** The admin token at `file`, created (mode 0600) with a new random token when missing. */
export function loadOrCreateAdminToken(file: string): { token: string; created: boolean } {
  if (fs.existsSync(file)) return { token: readSecretFile(file, "adminTokenFile"), created: false };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const token = randomToken();
  // Whole or absent (a full disk leaves no empty token file); if another process created it
  // meanwhile, its token wins rather than being overwritten.
  if (!createFileOnce(file, token + "\n", 0o600)) return { token: readSecretFile(file, "adminTokenFile"), created: false };
  return { token, created: true };
}
