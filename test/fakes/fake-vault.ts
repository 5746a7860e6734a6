// A faithful fake of HashiCorp Vault's HTTP API, for what the runner uses: AppRole login
// (POST /v1/auth/approle/login), token lookup-self and renew-self, a mount table of KV v1 and v2
// mounts (also of more than one segment, or behind a namespace at the path's front: `ns1/kv/`),
// the mount a path is in (GET /v1/sys/internal/ui/mounts/<path> → {data: {path, type, options:
// {version}}}, 403 for no mount or no access to it), KV v2 reads
// (GET /v1/<mount>/data/<path>[?version=N] → {data: {data, metadata}}), KV v1 reads
// (GET /v1/<mount>/<path> → {data}), namespaces (X-Vault-Namespace, and a child namespace named
// in the header below the one every request names, as Vault Enterprise reads it: the header's
// namespace, then the path in it), and Vault's error shape
// {"errors": [...]}: 403 "permission denied" for a missing, bad or expired token, 404 with an
// empty list for a missing path, 400 for a bad AppRole login. Faults can be injected.

import { FakeServer, type FakeReply, type FakeRequest } from "./http-fake.ts";

export interface FakeVaultToken {
  ttlSec: number;
  renewable: boolean;
  expiresAt: number;
  /** Paths (prefixes) this token may read. */
  allow: string[];
}

export interface FakeVaultOptions {
  now?: () => number;
  /** The namespace every request must name (X-Vault-Namespace); none when undefined. */
  namespace?: string;
  roleId?: string;
  secretId?: string;
  /** TTL of tokens the AppRole login issues. */
  loginTtlSec?: number;
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
  /**
   * Tokens' policies deny auth/token/lookup-self and renew-self (a role with
   * token_no_default_policy): 403 for live tokens too, as Vault answers a denial.
   */
  selfDenied?: boolean;
  /** The mount table (default: `kv/` KV v2, `secret/` KV v1). */
  mounts?: FakeVaultMount[];
  /**
   * Where sys/internal/ui/mounts/<path> checks the token's access, as Vault's
   * pathInternalUIMountRead does: "mount" (newer Vault, OpenBao: the mount's full path, its
   * namespace included) or "request-namespace" (older Vault: the request's namespace plus the
   * mount's path inside its own namespace, `hasMountAccess(ctx, acl, ns.Path+me.Path)`, so a
   * token of the root namespace asking about `ns1/kv/…` by the path is refused, 403, and asking
   * with X-Vault-Namespace: ns1 about `kv/…` is answered). Default "mount".
   */
  mountLookupAccess?: "mount" | "request-namespace";
  /** A Vault without namespaces (the community edition): X-Vault-Namespace is ignored. */
  withoutNamespaces?: boolean;
}

export interface FakeVaultMount {
  /** As a request names it, with its trailing slash: `kv/`, `team/kv/`, `ns1/kv/` (in namespace ns1). */
  path: string;
  type: string;
  /** options.version; null: no options (Vault's answer for a mount made without any). */
  version?: "1" | "2" | null;
  /** What sys/internal/ui/mounts answers as data.path, when not as below. */
  answerPath?: string;
  /**
   * The namespace it is mounted in, a front part of `path` (`ns1` for `ns1/kv/`). Asked about in
   * that namespace, Vault answers data.path inside it (`kv/`); from another, the namespace's path
   * in front (`ns1/kv/`). None: mounted where `path` is counted from.
   */
  namespace?: string;
}

const DEFAULT_MOUNTS: FakeVaultMount[] = [
  { path: "kv/", type: "kv", version: "2" },
  { path: "secret/", type: "kv", version: "1" },
];

export async function startFakeVault(options: FakeVaultOptions = {}) {
  const now = options.now ?? Date.now;
  const tokens = new Map<string, FakeVaultToken>();
  /** "kv/app" → versions (index 0 = version 1); null = destroyed. */
  const kv2 = new Map<string, Array<Record<string, unknown> | null>>();
  const kv1 = new Map<string, Record<string, unknown>>();
  let counter = 0;
  let refuseRenewal = false;
  let logins = 0;
  let renewals = 0;

  const errors = (status: number, ...messages: string[]): FakeReply => ({ status, body: { errors: messages } });
  const issue = (allow: string[], ttlSec: number, renewable = true): string => {
    const token = `hvs.fake${++counter}${Math.random().toString(36).slice(2, 10)}`;
    tokens.set(token, { ttlSec, renewable, expiresAt: now() + ttlSec * 1000, allow });
    return token;
  };
  const auth = (token: string, t: FakeVaultToken) => ({ client_token: token, accessor: `acc-${token.slice(-6)}`, policies: ["default", "edge-runner"], lease_duration: t.ttlSec, renewable: t.renewable });

  const mounts = options.mounts ?? DEFAULT_MOUNTS;
  /** The mount a path is in: the longest mount path in front of it, as Vault's router matches. */
  const mountOf = (path: string) => mounts.filter((m) => `${path}/`.startsWith(m.path)).sort((a, b) => b.path.length - a.path.length)[0];
  let mountLookups = 0;

  /**
   * The namespace a request names below the one every request must name (`ns1` for
   * X-Vault-Namespace: ns1, or team-a/ns1 where `namespace` is team-a): "" for none, undefined
   * for a request outside `namespace`.
   */
  const childNamespace = (req: FakeRequest): string | undefined => {
    const header = options.withoutNamespaces === true ? undefined : req.headers["x-vault-namespace"];
    const named = typeof header === "string" ? header.replace(/^\/+|\/+$/g, "") : "";
    if (options.namespace === undefined) return named;
    if (named === options.namespace) return "";
    return named.startsWith(`${options.namespace}/`) ? named.slice(options.namespace.length + 1) : undefined;
  };

  const handle = (req: FakeRequest): FakeReply => {
    const child = childNamespace(req);
    if (child === undefined) {
      // Outside its namespace a token and its paths do not exist.
      return req.path.startsWith("/v1/auth/approle/login") ? errors(400, "invalid role or secret ID") : errors(403, "permission denied");
    }
    const inChild = (path: string) => (child === "" ? path : `${child}/${path}`);
    if (req.method === "POST" && req.path === "/v1/auth/approle/login") {
      const body = JSON.parse(req.body || "{}") as { role_id?: string; secret_id?: string };
      if (body.role_id === undefined || body.role_id !== options.roleId) return errors(400, "invalid role or secret ID");
      if (body.secret_id !== options.secretId) return errors(400, "invalid role or secret ID");
      logins++;
      const token = issue(["kv/", "secret/"], options.loginTtlSec ?? 3600);
      return { status: 200, body: { request_id: "r", lease_id: "", renewable: false, lease_duration: 0, data: null, auth: auth(token, tokens.get(token)!) } };
    }
    const token = String(req.headers["x-vault-token"] ?? "");
    const held = tokens.get(token);
    if (held === undefined || (held.ttlSec > 0 && now() >= held.expiresAt)) return errors(403, "permission denied");
    if (options.selfDenied === true && req.path.startsWith("/v1/auth/token/")) return errors(403, "1 error occurred:\n\t* permission denied\n\n");
    if (req.method === "GET" && req.path === "/v1/auth/token/lookup-self") {
      const ttl = held.ttlSec === 0 ? 0 : Math.max(0, Math.round((held.expiresAt - now()) / 1000));
      return { status: 200, body: { data: { ttl, renewable: held.renewable, creation_ttl: held.ttlSec, policies: ["default"] } } };
    }
    if (req.method === "POST" && req.path === "/v1/auth/token/renew-self") {
      if (refuseRenewal || !held.renewable) return errors(400, "lease is not renewable");
      renewals++;
      held.expiresAt = now() + held.ttlSec * 1000;
      return { status: 200, body: { auth: auth(token, held) } };
    }
    if (req.method !== "GET" || !req.path.startsWith("/v1/")) return errors(405, "unsupported operation");
    const asSent = req.path.slice("/v1/".length);
    const mountsPrefix = "sys/internal/ui/mounts/";
    if (asSent.startsWith(mountsPrefix)) {
      // Not under the token's policy itself (an unauthenticated path in Vault's router): the
      // handler answers for a mount the token has any capability under, and 403 otherwise, also
      // for no mount at all (so it cannot be used to list mounts).
      mountLookups++;
      const asked = asSent.slice(mountsPrefix.length);
      const mount = mountOf(inChild(asked));
      const denied = errors(403, `preflight capability check returned 403, please ensure client's policies grant access to path "${asked}/"`);
      if (mount === undefined) return denied;
      const inItsNamespace = mount.namespace === undefined ? mount.path : mount.path.slice(mount.namespace.length + 1);
      const checked = options.mountLookupAccess === "request-namespace" ? inChild(inItsNamespace) : mount.path;
      if (!held.allow.some((prefix) => prefix.startsWith(checked) || checked.startsWith(prefix))) return denied;
      // From another namespace Vault puts the mount's namespace in front, its full path from the root.
      const fromRoot = options.namespace === undefined ? mount.path : `${options.namespace}/${mount.path}`;
      const answered = mount.answerPath ?? ((mount.namespace ?? "") === child ? inItsNamespace : fromRoot);
      const data = {
        // Each mount its own accessor and uuid, as Vault makes them when it mounts.
        accessor: `${mount.type}_${(mounts.indexOf(mount) + 0x0a1b2c3d).toString(16)}`, config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 }, description: "",
        external_entropy_access: false, local: false, options: mount.version === null || mount.version === undefined ? null : { version: mount.version },
        path: answered, plugin_version: "", running_plugin_version: "", running_sha256: "", seal_wrap: false, type: mount.type, uuid: `5e4d3c2b-0000-0000-0000-${String(mounts.indexOf(mount)).padStart(12, "0")}`,
      };
      return { status: 200, body: { request_id: "r", lease_id: "", renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth: null } };
    }
    const path = inChild(asSent);
    if (!held.allow.some((prefix) => path.startsWith(prefix))) return errors(403, "1 error occurred:\n\t* permission denied\n\n");
    const mount = mountOf(path);
    // No mount: Vault has no handler for the path.
    if (mount === undefined) return errors(404, `no handler for route "${path}". route entry not found.`);
    const [kind, ...rest] = path.slice(mount.path.length).split("/");
    if (mount.version === "2") {
      // A KV v2 mount answers secrets under data/ only (metadata/ and the rest are not read here).
      if (kind !== "data") return errors(404);
      const versions = kv2.get(`${mount.path}${rest.join("/")}`);
      if (versions === undefined) return errors(404);
      const wanted = req.query.get("version");
      const number = wanted === null || wanted === "0" ? versions.length : Number(wanted);
      if (!(number >= 1 && number <= versions.length)) return errors(404);
      const data = versions[number - 1];
      const metadata = { version: number, created_time: "2026-01-01T00:00:00Z", deletion_time: "", destroyed: data === null, custom_metadata: null };
      // A destroyed version answers 404 with the metadata and data: null, as Vault does.
      return { status: data === null ? 404 : 200, body: { request_id: "r", lease_id: "", renewable: false, lease_duration: 0, data: { data, metadata }, wrap_info: null, warnings: null, auth: null } };
    }
    const value = kv1.get(path);
    if (value === undefined) return errors(404);
    return { status: 200, body: { request_id: "r", lease_id: "", renewable: false, lease_duration: 2764800, data: value, wrap_info: null, warnings: null, auth: null } };
  };

  const server = new FakeServer().any(handle);
  await server.start(options.tls === undefined ? {} : { tls: options.tls });
  return {
    url: server.url,
    requests: server.requests,
    close: () => server.stop(),
    /** A token the test hands to the runner (ttlSec 0 never expires, like a root token). */
    token: (allow: string[] = ["kv/", "secret/"], ttlSec = 0, renewable = true) => issue(allow, ttlSec, renewable),
    /** A KV v2 secret by its mount and name, without data/: `kv/app` is read at kv/data/app. */
    putKv2: (path: string, data: Record<string, unknown> | null) => {
      const versions = kv2.get(path) ?? [];
      versions.push(data);
      kv2.set(path, versions);
    },
    putKv1: (path: string, data: Record<string, unknown>) => kv1.set(path, data),
    revoke: (token: string) => tokens.delete(token),
    /** The next request (the next one `match` picks, if given) gets `answer`, whatever it asks. */
    fail: (answer: FakeReply, match?: (req: FakeRequest) => boolean) => server.fault({ times: 1, reply: () => answer, ...(match === undefined ? {} : { match }) }),
    /** Every sys/internal/ui/mounts/<path> from now on is 403, also with X-Vault-Namespace (a proxy in front that refuses sys/ paths). */
    refuseMountLookups: () => server.fault({ times: Infinity, match: (req) => req.path.startsWith("/v1/sys/internal/ui/mounts/"), reply: () => errors(403, "permission denied") }),
    /** The next request `match` picks is answered as usual, but `delayMs` late (a slow Vault). */
    slow: (match: (req: FakeRequest) => boolean, delayMs: number) => server.fault({ times: 1, match, reply: (req) => ({ ...handle(req), delayMs }) }),
    refuseRenewal: (refuse: boolean) => (refuseRenewal = refuse),
    get logins() {
      return logins;
    },
    get renewals() {
      return renewals;
    },
    /** How many sys/internal/ui/mounts/<path> requests it answered. */
    get mountLookups() {
      return mountLookups;
    },
  };
}
