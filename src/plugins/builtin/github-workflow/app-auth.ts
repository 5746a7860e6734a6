// GitHub App authentication: an RS256 app JWT made with jose (iat now-60 for clock drift, exp
// now+540, under GitHub's 10-minute limit, iss the app id), the installation looked up for the
// repository when not given, and an installation access token cached until 5 minutes before it
// expires, at most an hour (GitHub's own lifetime for one), and forgotten when a call with it is
// refused (per worker; tokens never leave it). A job asks for it before each call
// (github-credential.ts), so a run longer than the token's life gets a new one.

import { createPrivateKey } from "node:crypto";
import { SignJWT } from "jose";
import { EdgeError } from "../../../errors.ts";
import type { ApiClient } from "../api-client.ts";
import { apiId } from "../api-values.ts";

interface CachedToken {
  token: string;
  installationId: string;
  expiresAt: number;
}

export interface InstallationToken {
  token: string;
  /** Whose rate limit calls with the token draw on: every token of one installation shares it. */
  budget: string;
}

const cache = new Map<string, CachedToken>();
const REFRESH_BEFORE_MS = 5 * 60_000;
/**
 * GitHub's installation tokens live an hour. An `expires_at` further out (a proxy, a server's
 * clock) is not believed: a revoked token would otherwise be used for the life of the worker.
 */
export const TOKEN_LIFETIME_MAX_MS = 3_600_000;

export interface AppAuth {
  baseUrl: string;
  appId: string;
  privateKeyPem: string;
  installationId?: string;
  owner: string;
  repo: string;
}

export const GITHUB_HEADERS = { accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" } as const;

export async function appJwt(appId: string, privateKeyPem: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  let key;
  try {
    // GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE KEY"); node:crypto reads both it and PKCS#8.
    key = createPrivateKey(privateKeyPem);
  } catch {
    throw new EdgeError("integration_unauthorized", `GitHub: cannot sign the app JWT for app ${appId}: the private key is not a PEM RSA key`);
  }
  return new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setIssuedAt(nowSeconds - 60).setExpirationTime(nowSeconds + 540).setIssuer(appId).sign(key);
}

/**
 * An installation access token for the repository, from the cache while it has 5 minutes left.
 * `mask` gets the app JWT and the token before either is sent or returned: both are credentials
 * the job's redaction must know (an API or a proxy may echo them in an error), and a cached token
 * is masked again for each job that uses it.
 */
export async function installationToken(api: ApiClient, auth: AppAuth, mask: (credential: string) => void, now: () => number = Date.now, signal?: AbortSignal): Promise<InstallationToken> {
  const key = cacheKey(auth);
  const budget = (installationId: string): string => `github-app ${auth.appId} installation ${installationId}`;
  const cached = cache.get(key);
  if (cached !== undefined && cached.expiresAt - REFRESH_BEFORE_MS > now()) {
    mask(cached.token);
    return { token: cached.token, budget: budget(cached.installationId) };
  }
  const jwt = await appJwt(auth.appId, auth.privateKeyPem);
  mask(jwt);
  // Every JWT is new, but GitHub counts the calls made with them against the app.
  const headers = { ...GITHUB_HEADERS, authorization: `Bearer ${jwt}` };
  const asApp = `github-app ${auth.appId}`;
  let installationId = auth.installationId;
  if (installationId === undefined) {
    const found = await api.request<{ id?: unknown }>({ integration: "GitHub", call: "look up the app installation", method: "GET", url: `${auth.baseUrl}/repos/${auth.owner}/${auth.repo}/installation`, headers, budget: asApp, idempotent: true, ...(signal === undefined ? {} : { signal }) });
    // It goes into the token URL: checked like every id an API hands back.
    installationId = String(apiId(found.body?.id, "GitHub", `app installation (of ${auth.owner}/${auth.repo})`));
  }
  const created = await api.request<{ token?: unknown; expires_at?: unknown }>({
    integration: "GitHub", call: "create an installation access token", method: "POST",
    url: `${auth.baseUrl}/app/installations/${installationId}/access_tokens`, headers, budget: asApp, idempotent: true, ...(signal === undefined ? {} : { signal }),
  });
  const token = created.body?.token;
  if (typeof token !== "string" || token === "") throw new EdgeError("integration_failed", "GitHub: the access token answer has no token");
  mask(token);
  const issuedAt = now();
  const stated = typeof created.body?.expires_at === "string" ? Date.parse(created.body.expires_at) : Number.NaN;
  const expiresAt = Math.min(Number.isFinite(stated) ? stated : Number.POSITIVE_INFINITY, issuedAt + TOKEN_LIFETIME_MAX_MS);
  cache.set(key, { token, installationId, expiresAt });
  return { token, budget: budget(installationId) };
}

/**
 * Drops the cached token for `auth` (a call with it was refused): the next call asks for a new
 * one. Given `token`, only when that is still the cached one (another job may have renewed it).
 */
export function forgetInstallationToken(auth: Pick<AppAuth, "baseUrl" | "appId" | "installationId" | "owner" | "repo">, token?: string): void {
  const key = cacheKey(auth);
  if (token === undefined || cache.get(key)?.token === token) cache.delete(key);
}

function cacheKey(auth: Pick<AppAuth, "baseUrl" | "appId" | "installationId" | "owner" | "repo">): string {
  return `${auth.baseUrl}|${auth.appId}|${auth.installationId ?? `${auth.owner}/${auth.repo}`}`;
}
