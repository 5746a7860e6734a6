// Which Vault mount a path is in, and whether it is KV v2: asked of Vault as its own CLI does
// (`vault kv get` sends GET sys/internal/ui/mounts/PATH and reads data.path, data.type and
// data.options.version), so a KV v2 mount of more than one segment (`team/kv/`) or behind a
// namespace at the path's front (`ns1/kv/`) is read as KV v2, where a rule on the path's
// segments alone cannot tell (`MOUNT/data/…` with a mount of one segment). Answers are kept per
// mount for MOUNT_INFO_TTL_MS, at most MAX_MOUNTS_KEPT of them.

import { EdgeError } from "../../errors.ts";
import { isKvV2Path, VAULT_OWN_PATHS, type SecretReference } from "./reference.ts";
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

/** Sends GET /v1/<apiPath> with the client's token and namespace; rejects as node-vault does. */
export type VaultGet = (apiPath: string) => Promise<unknown>;

export class VaultMounts {
  readonly #now: () => number;
  /** By mount path, oldest first. Mounts do not nest in Vault, so at most one is in front of a path. */
  readonly #kept = new Map<string, { mount: VaultMount; until: number }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /**
   * The mount `path` is in; undefined when Vault does not say: 403 (no such mount, or the token may
   * do nothing under it; Vault answers both alike), 404 (a Vault or a proxy without the endpoint),
   * or an answer not of its shape. Any other failure is thrown: the caller cannot tell the layout.
   */
  async of(path: string, get: VaultGet): Promise<VaultMount | undefined> {
    const kept = this.#cached(path);
    if (kept !== undefined) return kept;
    let body: unknown;
    try {
      body = await get(`${MOUNT_INFO_PATH}${path}`);
    } catch (error) {
      const status = statusOf(error);
      if (status === 403 || status === 404) return undefined;
      throw error;
    }
    const mount = mountOf(body, path);
    if (mount !== undefined) this.#keep(mount);
    return mount;
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

/**
 * The mount in Vault's answer for `path`, or undefined when the answer is not one (no data.path
 * or data.type, or a mount path not in front of `path`). Vault puts a child namespace's full path
 * in front of the mount when the request's namespace (X-Vault-Namespace) is its parent, and the
 * reference then spells only the part below that namespace: leading segments are dropped until
 * the rest is in front of `path`, as Vault's CLI does.
 */
export function mountOf(body: unknown, path: string): VaultMount | undefined {
  const data = (body as { data?: { path?: unknown; type?: unknown; options?: { version?: unknown } | null } } | null | undefined)?.data;
  const answered = data?.path;
  if (typeof answered !== "string" || typeof data?.type !== "string" || !answered.endsWith("/") || answered.length < 2) return undefined;
  let spelled = answered;
  while (!`${path}/`.startsWith(spelled)) {
    const slash = spelled.indexOf("/");
    if (slash === spelled.length - 1) return undefined;
    spelled = spelled.slice(slash + 1);
  }
  const own = answered.split("/").some((segment) => VAULT_OWN_PATHS.includes(segment.toLowerCase()));
  return { path: spelled, kv2: data.type === "kv" && data.options?.version === "2", own };
}

/**
 * Whether a read of `ref` is taken as KV v2: the mount is KV v2 and the path goes on with data/
 * after it; where Vault did not say (`mount` undefined), the rule on the path alone (MOUNT/data/…,
 * a mount of one segment). Refused (`where` names the reference and the Vault): a path Vault
 * places in one of its own mounts, whatever the answer was, and ?version=N where the read is not
 * KV v2 (Vault ignores it there: the value would be the current one, not the pinned one).
 */
export function readsAsKvV2(ref: Extract<SecretReference, { backend: "vault" }>, mount: VaultMount | undefined, where: string): boolean {
  if (mount?.own === true) {
    throw new EdgeError("secret_reference_invalid", `${where}: Vault says the path is in one of its own mounts (${VAULT_OWN_PATHS.map((p) => `${p}/`).join(", ")}), never readable by jobs; refused`);
  }
  const kv2 = mount === undefined ? isKvV2Path(ref.path.split("/")) : mount.kv2 && ref.path.startsWith(`${mount.path}data/`);
  if (ref.version !== undefined && !kv2) {
    const why = mount === undefined ? "the path is not MOUNT/data/… (and Vault did not say which mount it is in)" : mount.kv2 ? `the path does not go on with data/ after the KV v2 mount "${mount.path}"` : `the mount "${mount.path}" is not KV v2`;
    throw new EdgeError("secret_reference_invalid", `${where}: ?version=N pins a KV v2 version, and ${why}; refused`);
  }
  return kv2;
}
