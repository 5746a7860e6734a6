// Secrets the controller hands out (runner API keys, session tokens, the admin token): random,
// stored only as SHA-256, and compared in constant time.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { readSecretFile } from "../config/secret-file.ts";
import { createFileOnce } from "../util/create-file-once.ts";

/** 32 random bytes, base64url. */
export function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

export function sha256Hex(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Compares a presented secret with a stored hash without leaking where they differ. */
export function matchesHash(presented: string | undefined, storedHash: string): boolean {
  if (presented === undefined || presented === "") return false;
  const a = Buffer.from(sha256Hex(presented), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
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
