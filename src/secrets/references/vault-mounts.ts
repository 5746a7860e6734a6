// Which Vault mount a path is in, and whether it is KV v2: asked of Vault as its own CLI does
// (`vault kv get` sends GET sys/internal/ui/mounts/PATH and reads data.path, data.type and
// data.options.version), so a KV v2 mount of more than one segment (`team/kv/`) or behind a
// namespace at the path's front (`ns1/kv/`) is read as KV v2, where a rule on the path's
// segments alone cannot tell (`MOUNT/data/…` with a mount of one segment). Answers are kept per
// mount for MOUNT_INFO_TTL_MS, at most MAX_MOUNTS_KEPT of them.

import { EdgeError } from "../../errors.ts";
import { hasOwnNameBelowData, kvV2DataIndex, VAULT_OWN_PATHS, type SecretReference } from "./reference.ts";
import { statusOf } from "./vault-failure.ts";

/** A mount as Vault described it. */
export interface VaultMount {
  /** Its path as the reference spells it, with the trailing slash: `kv/`, `team/kv/`, `ns1/kv/`. */
  path: string;
  /** A kv mount with options.version "2". */
  kv2: boolean;
  /**
   * A segment of its path (as Vault answered it, namespaces included) names one of Vault's own
   * mounts: `auth/…`, `sys/`, `identity/`, `cubbyhole/`, also in a namespace (`ns/data/sys/`).
   */
  own: boolean;
  /** data.accessor, Vault's name for this one mount, where answered. */
  accessor?: string;
}

/**
 * How long an answer is kept. A mount can change (`vault kv enable-versioning` makes a KV v1
 * mount KV v2; a mount disabled and enabled again): up to this long its secrets are read as before.
 */
export const MOUNT_INFO_TTL_MS = 5 * 60_000;
/** The most mounts kept: a runner's jobs read from a few; the oldest leaves past this. */
export const MAX_MOUNTS_KEPT = 256;
/** Vault's path for one mount's details (an unauthenticated path whose handler checks the token's access to the mount itself). */
export const MOUNT_INFO_PATH = "sys/internal/ui/mounts/";

/** Answers of the mount lookup that mean "Vault does not say": the answer decides (readsAsKvV2()), nothing is kept. */
const NOT_SAID = [400, 403, 404, 405, 501];
/**
 * After a 403, the most namespaces named at the path's front that are asked about in
 * X-Vault-Namespace instead (`ns1`, then `ns1/ns2`, …): one more lookup each, only for a path with
 * a data/ segment after its second, until one is answered.
 */
export const MAX_NAMESPACE_TRIES = 4;

/**
 * Sends GET /v1/<apiPath> with the client's token and namespace, or with X-Vault-Namespace
 * `namespace` instead where given; rejects as node-vault does.
 */
export type VaultGet = (apiPath: string, namespace?: string) => Promise<unknown>;

export class VaultMounts {
  readonly #now: () => number;
  /** By mount path, oldest first. Mounts do not nest in Vault, so at most one is in front of a path. */
  readonly #kept = new Map<string, { mount: VaultMount; until: number }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /**
   * The mount `path` is in; undefined when Vault does not say: 403 (no such mount, or the token may
   * do nothing under it; Vault answers both alike), 404, 400, 405 or 501 (a Vault, a proxy or a
   * Vault-compatible server without the endpoint), or an answer not of its shape. Any other
   * failure is thrown: the caller cannot tell the layout. `namespace`: the X-Vault-Namespace the
   * runner sends, which Vault puts in front of a mount in a child namespace.
   */
  async of(path: string, namespace: string | undefined, get: VaultGet): Promise<VaultMount | undefined> {
    const kept = this.#cached(path);
    if (kept !== undefined) return kept;
    let found = await ask(path, namespace, get, false);
    // Vault before the fix seen in OpenBao's pathInternalUIMountRead checks the token's access at
    // the request's namespace plus the mount's path inside its own namespace: a token of the root
    // namespace is refused (403) for `ns1/kv/…` though it may read there, and answered when ns1
    // goes in X-Vault-Namespace, as `vault kv get -namespace=ns1` sends it. So after a 403 the
    // namespaces the path can name at its front are asked about that way, shortest first.
    for (const front of found === "refused" ? namespaceFronts(path) : []) {
      const rest = path.slice(front.length + 1);
      const inside = await ask(rest, joinNamespace(namespace, front), get, true);
      if (inside === "refused" || inside === undefined) continue;
      // A Vault without namespaces (the community edition) ignores the header and answers about
      // `rest` where the runner is: the same mount asked about without it is that answer, not ns1's.
      if (inside.accessor === undefined || (await sameMount(inside, rest, namespace, get))) break;
      found = { ...inside, path: `${front}/${inside.path}` };
      break;
    }
    if (found === "refused" || found === undefined) return undefined;
    this.#keep(found);
    return found;
  }

  #cached(path: string): VaultMount | undefined {
    const now = this.#now();
    for (const [key, entry] of this.#kept) {
      if (entry.until <= now) {
        this.#kept.delete(key);
        continue;
      }
      if (`${path}/`.startsWith(key)) return entry.mount;
    }
    return undefined;
  }

  #keep(mount: VaultMount): void {
    this.#kept.delete(mount.path);
    this.#kept.set(mount.path, { mount, until: this.#now() + MOUNT_INFO_TTL_MS });
    while (this.#kept.size > MAX_MOUNTS_KEPT) this.#kept.delete(this.#kept.keys().next().value!);
  }
}

/** One lookup: the mount, undefined where Vault does not say, "refused" for a 403; other failures thrown. */
async function ask(path: string, namespace: string | undefined, get: VaultGet, inNamespace: boolean): Promise<VaultMount | undefined | "refused"> {
  let body: unknown;
  try {
    body = await (inNamespace ? get(`${MOUNT_INFO_PATH}${path}`, namespace) : get(`${MOUNT_INFO_PATH}${path}`));
  } catch (error) {
    const status = statusOf(error);
    if (status === 403) return "refused";
    if (status !== undefined && NOT_SAID.includes(status)) return undefined;
    throw error;
  }
  return mountOf(body, path, namespace);
}

/** Whether `rest` asked about without the header is the mount `inside` (same accessor): the header was not read. */
async function sameMount(inside: VaultMount, rest: string, namespace: string | undefined, get: VaultGet): Promise<boolean> {
  const here = await ask(rest, namespace, get, false);
  return here !== "refused" && here !== undefined && here.accessor === inside.accessor;
}

/**
 * The namespaces a path can name at its front before a KV v2 mount (`ns1`, `ns1/ns2` for
 * `ns1/ns2/kv/data/app`): at least one segment is left for the mount before data/. Own names
 * cannot be among them: reference.ts refuses them before data/.
 */
function namespaceFronts(path: string): string[] {
  const segments = path.split("/");
  const data = kvV2DataIndex(segments);
  const fronts: string[] = [];
  for (let k = 1; k < data && fronts.length < MAX_NAMESPACE_TRIES; k++) fronts.push(segments.slice(0, k).join("/"));
  return fronts;
}

/** The runner's own namespace (X-Vault-Namespace) with a child namespace below it. */
function joinNamespace(namespace: string | undefined, child: string): string {
  const parent = namespace?.replace(/^\/+|\/+$/g, "") ?? "";
  return parent === "" ? child : `${parent}/${child}`;
}

/**
 * The mount in Vault's answer for `path`, or undefined when the answer is not one (no data.path
 * or data.type, or a mount path that is not exactly in front of `path`). Vault puts a child
 * namespace's full path in front of the mount when the request's namespace (X-Vault-Namespace,
 * `namespace`) is its parent, and the reference spells only the part below that namespace: that
 * namespace, and only it, is taken off the front. Nothing else is dropped: an auth method's
 * answer carries no `auth/` (Vault answers its path in the auth table, `approle/`), and dropping
 * segments until something fits found a mount that was not the one asked about (`approle/data/`
 * as a namespace, an auth mount in it, read as a KV v1 mount `approle/`).
 */
export function mountOf(body: unknown, path: string, namespace?: string): VaultMount | undefined {
  const data = (body as { data?: { path?: unknown; type?: unknown; accessor?: unknown; options?: { version?: unknown } | null } } | null | undefined)?.data;
  const answered = data?.path;
  if (typeof answered !== "string" || typeof data?.type !== "string" || !answered.endsWith("/") || answered.length < 2) return undefined;
  const parent = namespace === undefined ? "" : namespace.replace(/^\/+|\/+$/g, "");
  const spelled = parent !== "" && answered.startsWith(`${parent}/`) ? answered.slice(parent.length + 1) : answered;
  if (spelled === "" || !`${path}/`.startsWith(spelled)) return undefined;
  const own = answered.split("/").some((segment) => VAULT_OWN_PATHS.includes(segment.toLowerCase()));
  const mount: VaultMount = { path: spelled, kv2: data.type === "kv" && data.options?.version === "2", own };
  if (typeof data.accessor === "string" && data.accessor !== "") mount.accessor = data.accessor;
  return mount;
}

/**
 * Whether a read of `ref` is taken as KV v2: the mount is KV v2 and the path goes on with data/
 * after it. Where Vault did not say (`mount` undefined: a Vault, proxy or compatible server
 * without the lookup, or a 403), the answer decides: a path with a data/ segment
 * after its first is KV v2 when the answer has KV v2's shape (data.data beside an integer
 * data.metadata.version), so `ns1/kv/data/app` and `team/kv/data/app` read as KV v2 and a KV v1
 * folder called data as KV v1. A path with one of Vault's own names below its data/ is read as
 * KV v2 whatever the answer (the backend then refuses an answer without that shape): it was
 * parsed as a KV v2 secret's folders, and read as KV v1 it could be Vault's own API in a
 * namespace called data. Refused (`where` names the reference and the Vault): a path Vault
 * places in one of its own mounts, whatever the answer was, and ?version=N where the read is not
 * KV v2 (Vault ignores it there: the value would be the current one, not the pinned one).
 */
export function readsAsKvV2(ref: Extract<SecretReference, { backend: "vault" }>, mount: VaultMount | undefined, body: unknown, where: string): boolean {
  if (mount?.own === true) {
    throw new EdgeError("secret_reference_invalid", `${where}: Vault says the path is in one of its own mounts (${VAULT_OWN_PATHS.map((p) => `${p}/`).join(", ")}), never readable by jobs; refused`);
  }
  const segments = ref.path.split("/");
  const kv2 = mount === undefined ? kvV2DataIndex(segments) !== -1 && (hasOwnNameBelowData(segments) || hasKvV2Shape(body)) : mount.kv2 && ref.path.startsWith(`${mount.path}data/`);
  if (ref.version !== undefined && !kv2) {
    const why = mount === undefined ? "the answer is not a KV v2 answer (and Vault did not say which mount the path is in)" : mount.kv2 ? `the path does not go on with data/ after the KV v2 mount "${mount.path}"` : `the mount "${mount.path}" is not KV v2`;
    throw new EdgeError("secret_reference_invalid", `${where}: ?version=N pins a KV v2 version, and ${why}; refused`);
  }
  return kv2;
}

/** KV v2's answer: data.data (an object, or null for a deleted version) beside an integer data.metadata.version. */
function hasKvV2Shape(body: unknown): boolean {
  const data = (body as { data?: { data?: unknown; metadata?: { version?: unknown } | null } } | null | undefined)?.data;
  return data !== null && typeof data === "object" && typeof data.data === "object" && Number.isSafeInteger(data.metadata?.version);
}
