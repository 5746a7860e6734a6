// `vault:` references through node-vault (loaded only when a runner uses Vault). Token (a token
// file is re-read when it changes, as Vault Agent rewrites it) or AppRole auth; KV v2 (answer in
// data.data, `?version=N`: a path in a mount Vault says is KV v2, vault-mounts.ts) and
// KV v1 (answer in data); a namespace header; the token renewed before its TTL runs out and,
// with AppRole, a new login when renewal is refused or a read's 403 came from a dead token (not
// from the policy: lookup-self tells them apart); a custom CA; a timeout per call.
// Calls go through vault-transport.ts (no redirects, bounded answers); nothing is taken from
// VAULT_* variables. Errors say which reference and which Vault, never a value or a token.

import { EdgeError } from "../../errors.ts";
import type { SecretReference } from "./reference.ts";
import { readsAsKvV2, VaultMounts, type VaultMount } from "./vault-mounts.ts";
import { clipWords } from "../../util/clip-words.ts";
import { readVaultTokenFile } from "./vault-token.ts";
import { headerUnsafeCharacter } from "../../util/header-value.ts";
import { statSync } from "node:fs";
import { vaultTransport } from "./vault-transport.ts";
import { SingleFlight } from "../../util/single-flight.ts";
import { holdsOwnCredential } from "./own-credential.ts";
import { VaultOwnCredentials } from "./vault-own-credentials.ts";
import { statusOf, vaultFailure } from "./vault-failure.ts";

export interface VaultBackendOptions {
  addr: string;
  token?: string;
  /** Where `token` came from: re-read when it changes, or when Vault refuses the token. */
  tokenFile?: string;
  roleId?: string;
  secretId?: string;
  /** AppRole mount point; default "approle". */
  appRoleMount?: string;
  namespace?: string;
  caPem?: string;
  timeoutMs: number;
  now?: () => number;
  /** The runner's own secrets scope: tokens are registered there so no log shows them. */
  registerSecret?: (value: string) => void;
}

interface VaultClient {
  token: string | undefined;
  namespace: string | undefined;
  pathPrefix: string;
  read(path: string, options?: unknown): Promise<any>;
  /** A call as node-vault sends it, with the client's token and namespace and no side effect on them. */
  request(options: { path: string; method: string; json?: unknown }): Promise<any>;
  tokenLookupSelf(args?: unknown): Promise<any>;
}

/** Renew when this share of the TTL has passed (Vault's own agents renew at about two thirds). */
const RENEW_AT = 2 / 3;
const MAX_VALUE_CHARS = 1024 * 1024;
/** Largest answer read from Vault; a KV read of a 1 MiB value as JSON fits. */
export const MAX_VAULT_ANSWER_BYTES = 2 * 1024 * 1024;

/**
 * At most one new token per this long because reads met 403s: whatever lookup-self says, a job
 * naming forbidden paths cannot make the runner log in faster than this (tokens piling up, a
 * secret_id's num_uses spent, live tokens pushed out of the MAX_OWN_TOKENS it refuses).
 */
export const MIN_DENIAL_RECOVERY_MS = 60_000;
/**
 * A lookup-self that found the token alive after a read's 403 answers for this long (never past
 * the token's known end): forbidden reads in a row cost one lookup per this long, not one each. The
 * cost: a token revoked within it is found (and replaced) up to this much later.
 */
export const TOKEN_FOUND_LIVE_MS = 30_000;

export class VaultBackend {
  readonly #o: VaultBackendOptions;
  readonly #now: () => number;
  #client: Promise<VaultClient> | undefined;
  /** When the token needs renewing (epoch ms); undefined: not known yet; Infinity: never expires. */
  #renewAt: number | undefined;
  /** When reads' 403s last led to a new token (epoch ms). */
  #deniedRecoveryAt = -Infinity;
  /**
   * lookup-self is denied by the policy (a role with token_no_default_policy): a fresh token's own
   * lookup-self answered 403, so a 403 from it says nothing about a token being dead. Dead tokens
   * are then found by their renewal (at two-thirds of the TTL) instead.
   */
  #lookupSelfDenied = false;
  /** The token a 403's lookup-self last found alive, and until when that answer holds (epoch ms). */
  #foundLive: { token: string; until: number } | undefined;
  /** A token lookup, renewal or login under way: reads that need one at the same time wait for it. */
  readonly #calls = new SingleFlight<any>();
  /** The token file's identity (inode, size, mtime) when last read. */
  #tokenFileStamp: string | undefined;
  /** The runner's own credentials (configured token, AppRole ids, recent tokens): never handed to a job. */
  readonly #own: VaultOwnCredentials;
  /** The mounts Vault described, to tell a KV v2 path from a KV v1 one. */
  readonly #mounts: VaultMounts;

  constructor(options: VaultBackendOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#mounts = new VaultMounts(this.#now);
    this.#own = new VaultOwnCredentials(this.#now, options.registerSecret);
    // The runner's own secrets: masked in everything it writes, like its API key.
    if (options.token !== undefined) this.#own.configured(options.token);
    if (options.secretId !== undefined) this.#own.configured(options.secretId);
    // Not secret enough to mask (it is in configs), but half of the AppRole login: never a job's.
    if (options.roleId !== undefined) this.#own.refused(options.roleId);
  }

  get label(): string {
    return `Vault at "${this.#o.addr}"`;
  }

  /** Its configured token and AppRole ids and the tokens it held lately: what no backend's value may hold (secret-backends.ts). */
  get ownCredentials(): ReadonlySet<string> {
    return this.#own.values;
  }

  /**
   * `signal` (the job's) cancels the KV read itself; a token lookup, renewal or login is shared
   * with other reads and ends only at its own deadline (vaultTimeoutMs).
   */
  async read(ref: Extract<SecretReference, { backend: "vault" }>, signal?: AbortSignal): Promise<string> {
    const client = await this.#ensureClient();
    this.#syncTokenFile(client, ref.raw, false);
    await this.#ensureToken(client, ref.raw);
    const path = ref.version === undefined ? ref.path : `${ref.path}?version=${ref.version}`;
    // node-vault passes its request options on to the transport (vault-transport.ts).
    const options = signal === undefined ? undefined : { signal };
    let body: any;
    const used = client.token;
    try {
      body = await client.read(path, options);
    } catch (error) {
      // A token revoked or expired early: a rewritten token file or a new AppRole login, once.
      if (statusOf(error) === 403 && (await this.#replaceIfDead(client, used, ref.raw))) {
        try {
          body = await client.read(path, options);
        } catch (retryError) {
          throw this.#failure(retryError, ref.raw);
        }
      } else {
        throw this.#failure(error, ref.raw);
      }
    }
    const kv2 = await this.#isKvV2(client, ref, body, options);
    const version: unknown = body?.data?.metadata?.version;
    // KV v2 always says which version it answered; reference.ts reads folders named like Vault's
    // own mounts below data/ on that condition (no API answer of auth/, sys/, … has this shape).
    // Asked first: such an answer is not a deleted version either.
    if (kv2 && !Number.isSafeInteger(version)) {
      throw new EdgeError("secret_corrupt", `Cannot resolve secret "${ref.raw}" from ${this.label}: the answer is not a KV v2 answer (no data.metadata.version); refused`);
    }
    const data = kv2 ? body?.data?.data : body?.data;
    if (data === null || typeof data !== "object") {
      // KV v2 answers data: null for a deleted or destroyed version.
      throw new EdgeError("secret_not_found", `Cannot resolve secret "${ref.raw}" from ${this.label}: the secret has no data (deleted or destroyed version?)`);
    }
    // A pin is checked against the version Vault says it answered (a proxy or plugin that drops
    // the query would hand over the current value as if it were the pinned one).
    if (kv2 && ref.version !== undefined && version !== ref.version) {
      throw new EdgeError("secret_corrupt", `Cannot resolve secret "${ref.raw}" from ${this.label}: version ${ref.version} was asked for and the answer is not that version (metadata.version ${clipWords(String(version), 20)}); refused`);
    }
    // Own fields only: `#__proto__`, `#constructor` or `#toString` would read the prototype's.
    const value: unknown = Object.hasOwn(data, ref.field) ? (data as Record<string, unknown>)[ref.field] : undefined;
    if (value === undefined) throw new EdgeError("secret_not_found", `Cannot resolve secret "${ref.raw}" from ${this.label}: the secret has no field "${ref.field}"`);
    // A secret is text: a string as it is, a number as written, an object or array as its JSON
    // text (its parts are masked too, sensitive-parts.ts). null and true/false are no secret's value.
    if (value === null) throw new EdgeError("secret_not_found", `Cannot resolve secret "${ref.raw}" from ${this.label}: the field "${ref.field}" is null`);
    if (typeof value === "boolean") throw new EdgeError("secret_corrupt", `Cannot resolve secret "${ref.raw}" from ${this.label}: the field "${ref.field}" is a boolean, not a secret's text; refused`);
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (text.length > MAX_VALUE_CHARS) throw new EdgeError("secret_corrupt", `Cannot resolve secret "${ref.raw}" from ${this.label}: the value is over ${MAX_VALUE_CHARS} characters`);
    // Second guard behind reference.ts's refusal of Vault's own paths: a policy that lets the
    // runner read a path where its own token or AppRole ids are stored must not hand them on.
    if (holdsOwnCredential(text, this.#own.values)) {
      throw new EdgeError("secret_permission_denied", `Cannot resolve secret "${ref.raw}" from ${this.label}: the value holds the runner's own Vault credential (its token or AppRole ids), never readable by jobs; refused`);
    }
    return text;
  }

  /** Whether the answer is read as KV v2 (vault-mounts.ts): asked after the read succeeded, so the token is known good. */
  async #isKvV2(client: VaultClient, ref: Extract<SecretReference, { backend: "vault" }>, body: unknown, options: unknown): Promise<boolean> {
    let mount: VaultMount | undefined;
    try {
      mount = await this.#mounts.of(ref.path, this.#o.namespace, (apiPath, namespace) => (namespace === undefined ? client.read(apiPath, options) : readInNamespace(client, apiPath, namespace, options)));
    } catch (error) {
      // The read itself succeeded with this token: whatever the lookup met is passing (a 401 or a
      // 5xx of a proxy), not the token's policy or the reference; retried, never a permanent refusal.
      throw vaultFailure(error, { where: `Cannot resolve secret "${ref.raw}" from ${this.label} (asking which mount the path is in)`, action: "find its mount", timeoutMs: this.#o.timeoutMs, passing: true });
    }
    return readsAsKvV2(ref, mount, body, `Cannot resolve secret "${ref.raw}" from ${this.label}`);
  }

  #canLogin(): boolean {
    return this.#o.roleId !== undefined && this.#o.secretId !== undefined;
  }

  /**
   * After a read's 403, whether the token was dead and is replaced now (true: read again) or the
   * policy denied the path (false). Vault answers both with 403, and a job names the paths: taking
   * every 403 for a dead token let any job make the runner log in again per forbidden read (tokens
   * piling up unrevoked, a secret_id's num_uses spent). So one lookup-self, shared by the reads
   * that ask about the same token, decides; a token another read replaced meanwhile is not looked
   * up, so one dead token leads to one login. The dead token is not revoked: Vault refused it.
   */
  async #replaceIfDead(client: VaultClient, used: string | undefined, ref: string): Promise<boolean> {
    if (client.token !== used) return true;
    if (this.#lookupSelfDenied) return false;
    if (used !== undefined && this.#foundLive?.token === used && this.#now() < this.#foundLive.until) return false;
    // Shared by the reads that met a 403 with the same token: one lookup, at most one new token.
    return this.#once(`check:${used ?? ""}`, () => this.#replaceDead(client, used, ref));
  }

  async #replaceDead(client: VaultClient, used: string | undefined, ref: string): Promise<boolean> {
    if (this.#now() - this.#deniedRecoveryAt < MIN_DENIAL_RECOVERY_MS) return false;
    try {
      await client.tokenLookupSelf();
      // The token is alive: the policy said no, and will for the next 403s for a while.
      if (used !== undefined) {
        const endsAt = this.#own.endOf(used) ?? Infinity;
        this.#foundLive = { token: used, until: Math.min(this.#now() + TOKEN_FOUND_LIVE_MS, endsAt) };
      }
      return false;
    } catch (error) {
      const status = statusOf(error);
      // Not an answer about the token (Vault unreachable, 5xx): the read's own 403 is reported.
      if (status !== 401 && status !== 403) return false;
    }
    if (client.token !== used) return true;
    // Counted only once there is a new token: a login that failed (Vault sealed, a leader election,
    // no answer) made none, and counting it refused every read for MIN_DENIAL_RECOVERY_MS, as
    // secret_permission_denied (not retried), though Vault was back seconds later.
    if (!(await this.#recover(client, ref))) return false;
    this.#deniedRecoveryAt = this.#now();
    // A token just issued is alive: if its own lookup-self is refused too, the policy denies
    // lookup-self, and no 403 of it ever meant a dead token.
    const fresh = client.token;
    try {
      await client.tokenLookupSelf();
    } catch (error) {
      if (statusOf(error) === 403 && client.token === fresh) this.#lookupSelfDenied = true;
    }
    return true;
  }

  /** A new token (from the file, or by AppRole) after Vault refused the current one; false: none. */
  async #recover(client: VaultClient, ref: string): Promise<boolean> {
    if (this.#syncTokenFile(client, ref, true)) return true;
    if (!this.#canLogin()) return false;
    await this.#login(client, ref);
    return true;
  }

  /** Takes the token file's token when the file changed (or `force`); true when the token changed. */
  #syncTokenFile(client: VaultClient, ref: string, force: boolean): boolean {
    const file = this.#o.tokenFile;
    if (file === undefined) return false;
    let token: string;
    let stamp: string;
    try {
      const info = statSync(file);
      stamp = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (!force && stamp === this.#tokenFileStamp) return false;
      // The same rule as at start: a regular file no other user can read, not empty.
      token = readVaultTokenFile(file);
    } catch (error) {
      throw new EdgeError("config_invalid", `Cannot resolve secret "${ref}" from ${this.label}: ${clipWords((error as Error).message ?? String(error), 300)}`);
    }
    this.#tokenFileStamp = stamp;
    if (token === client.token) return false;
    this.#own.token(token);
    client.token = token;
    this.#renewAt = undefined; // a new token: its TTL is looked up again
    return true;
  }

  async #ensureClient(): Promise<VaultClient> {
    this.#client ??= (async () => {
      // Loaded here, at first use: a runner that uses no Vault never loads node-vault.
      const { default: nodeVault } = (await import("node-vault")) as unknown as { default: (config: unknown) => VaultClient };
      const client = nodeVault({
        apiVersion: "v1",
        endpoint: this.#o.addr,
        // Its debug output would print request bodies (an AppRole secret_id) when DEBUG is set.
        debug: () => {},
        "request-promise": vaultTransport({ timeoutMs: this.#o.timeoutMs, maxBytes: MAX_VAULT_ANSWER_BYTES, ...(this.#o.caPem === undefined ? {} : { caPem: this.#o.caPem }) }),
      });
      // node-vault fills what the config leaves unset from VAULT_TOKEN, VAULT_NAMESPACE and
      // VAULT_PREFIX; the runner uses only what its own config says.
      client.token = this.#o.token;
      client.namespace = this.#o.namespace;
      client.pathPrefix = "";
      return client;
    })();
    return this.#client;
  }

  async #ensureToken(client: VaultClient, ref: string): Promise<void> {
    if (client.token === undefined || client.token === "") {
      if (!this.#canLogin()) throw new EdgeError("config_invalid", `Cannot resolve secret "${ref}" from ${this.label}: no vaultToken and no AppRole (vaultRoleId, vaultSecretIdFile) configured`);
      await this.#login(client, ref);
      return;
    }
    if (this.#renewAt === undefined) {
      // A token from the config: learn its TTL once (0 means it never expires, like a root token).
      const looked = client.token;
      try {
        // Keyed by the token: a lookup still running for a token the file replaced meanwhile
        // must not give the new one its TTL.
        const info = await this.#once(`lookup:${looked}`, () => client.tokenLookupSelf());
        const ttl = Number(info?.data?.ttl ?? 0);
        this.#own.endsIn(looked, ttl);
        if (client.token !== looked) return;
        this.#renewAt = ttl > 0 && info?.data?.renewable !== false ? this.#now() + ttl * 1000 * RENEW_AT : ttl > 0 ? this.#now() + ttl * 1000 : Infinity;
      } catch (error) {
        // The token file was rewritten while the old token was looked up: its 403 says nothing
        // about the new token (#recover would find the file's token in use and fail the read).
        if (client.token !== looked) return;
        if (!(statusOf(error) === 403 && (await this.#recover(client, ref)))) throw this.#failure(error, ref);
      }
      return;
    }
    if (this.#now() < this.#renewAt) return;
    // Keyed by the token, as the lookup is: a renewal of a token the file replaced meanwhile
    // neither sets the new token's renewal time nor fails its reads.
    const renewed = client.token;
    try {
      // Not node-vault's tokenRenewSelf(): it sets client.token to the answer's token when the
      // answer comes, and so put back a token the file replaced while the renewal was under way.
      const answer = await this.#once(`renew:${renewed}`, () => client.request({ path: "/auth/token/renew-self", method: "POST", json: {} }));
      this.#setLease(answer?.auth, client.token === renewed);
    } catch (error) {
      if (client.token !== renewed) return;
      // Renewal refused (max TTL reached, token revoked): a rewritten token file or a new login.
      const status = statusOf(error);
      if (!(status !== undefined && status >= 400 && status < 500 && (await this.#recover(client, ref)))) throw this.#failure(error, ref);
    }
  }

  async #login(client: VaultClient, ref: string): Promise<void> {
    return this.#once("login", async () => {
      try {
        // Not node-vault's approleLogin(): it makes the answer's client_token the client's token
        // when the answer comes, before it is checked here (a token refused below was then sent
        // at every later read), and over a token the file gave another read meanwhile.
        const body = { role_id: this.#o.roleId!, secret_id: this.#o.secretId! };
        const answer = await client.request({ path: `/auth/${this.#o.appRoleMount ?? "approle"}/login`, method: "POST", json: body });
        const token: unknown = answer?.auth?.client_token;
        if (typeof token !== "string" || token === "") throw new EdgeError("secret_backend_unavailable", `Cannot log in to ${this.label} with AppRole: the answer has no client_token`);
        this.#own.token(token);
        const bad = headerUnsafeCharacter(token);
        if (bad !== undefined) throw new EdgeError("secret_backend_unavailable", `Cannot log in to ${this.label} with AppRole: the answer's client_token holds ${bad}, which cannot be sent in the X-Vault-Token header; refused`);
        client.token = token;
        this.#setLease(answer.auth);
      } catch (error) {
        throw error instanceof EdgeError ? error : this.#failure(error, ref, "log in with AppRole");
      }
    });
  }

  /** Shares one call among concurrent callers; each maps its outcome (and names its reference) itself. */
  #once(kind: `lookup:${string}` | `renew:${string}` | "login" | `check:${string}`, call: () => Promise<any>): Promise<any> {
    // No signal: a job's cancel never aborts work other reads share.
    return this.#calls.run(kind, () => call());
  }

  /** A login's or renewal's lease: when its token ends, and (`inUse`: still the client's token) when to renew. */
  #setLease(auth: { lease_duration?: unknown; renewable?: unknown; client_token?: unknown } | undefined, inUse = true): void {
    const ttl = Number(auth?.lease_duration ?? 0);
    if (typeof auth?.client_token === "string") {
      this.#own.token(auth.client_token);
      this.#own.endsIn(auth.client_token, ttl);
    }
    if (inUse) this.#renewAt = ttl > 0 ? this.#now() + ttl * 1000 * RENEW_AT : Infinity;
  }

  #failure(error: unknown, ref: string, action = "read it"): EdgeError {
    return vaultFailure(error, { where: `Cannot resolve secret "${ref}" from ${this.label}`, action, timeoutMs: this.#o.timeoutMs });
  }
}

/**
 * A GET sent with X-Vault-Namespace `namespace` instead of the client's. node-vault writes its own
 * namespace over any header given, and builds the request's headers before its first await, so
 * the client's namespace is swapped only for that synchronous part: no other call sees it.
 */
function readInNamespace(client: VaultClient, apiPath: string, namespace: string, options: unknown): Promise<any> {
  const own = client.namespace;
  client.namespace = namespace;
  try {
    return client.read(apiPath, options);
  } finally {
    client.namespace = own;
  }
}
