// The runner's own Vault credentials: its configured token and AppRole ids, and the tokens it held
// lately. Masked in all the runner writes (through its secrets scope) and refused as a job's value
// (own-credential.ts). A token from a login, a renewal or the token file is kept until its known
// end (a token that may still work is never handed to a job); of those with no known end the
// oldest leaves past OWN_TOKENS_KEPT, and of all past MAX_OWN_TOKENS: one token per TTL would
// otherwise grow the set for as long as the runner lives.

/**
 * Tokens the runner held whose end is not known (never expires, or not looked up yet): only the
 * last this many are still refused as a job's value. A token with a known TTL is kept until it ends.
 */
export const OWN_TOKENS_KEPT = 8;
/** The most tokens kept at all, however long their TTLs: the set must not grow for the runner's life. */
export const MAX_OWN_TOKENS = 64;

export class VaultOwnCredentials {
  readonly #now: () => number;
  readonly #register: ((value: string) => void) | undefined;
  readonly #own = new Set<string>();
  /** Tokens it logged in to, renewed or read from the file, newest last, with when each ends (epoch ms; undefined: not known; Infinity: never). */
  readonly #recent: Array<{ token: string; endsAt: number | undefined }> = [];

  constructor(now: () => number, register: ((value: string) => void) | undefined) {
    this.#now = now;
    this.#register = register;
  }

  /** What a job's value is checked against. */
  get values(): ReadonlySet<string> {
    return this.#own;
  }

  /** A configured secret (token, secret_id): masked, refused, never forgotten. */
  configured(value: string): void {
    this.#register?.(value);
    if (value !== "") this.#own.add(value);
  }

  /** Refused but not masked: a role_id is in configs, but half of the AppRole login. */
  refused(value: string): void {
    if (value !== "") this.#own.add(value);
  }

  /** A token the runner holds now (a login's, a renewal's, the token file's): masked, and refused until it leaves. */
  token(value: string): void {
    this.#register?.(value);
    if (value === "" || this.#own.has(value)) return;
    this.#own.add(value);
    this.#recent.push({ token: value, endsAt: undefined });
    this.#prune();
  }

  /** Records when a held token ends (from a login's or renewal's lease, or lookup-self's ttl; 0: never). */
  endsIn(token: string, ttlSec: number): void {
    const held = this.#recent.find((t) => t.token === token);
    if (held !== undefined) held.endsAt = ttlSec > 0 ? this.#now() + ttlSec * 1000 : Infinity;
    this.#prune();
  }

  /** When a held token ends (epoch ms), if known. */
  endOf(token: string): number | undefined {
    return this.#recent.find((t) => t.token === token)?.endsAt;
  }

  #prune(): void {
    const now = this.#now();
    const drop = (index: number) => this.#own.delete(this.#recent.splice(index, 1)[0]!.token);
    for (let i = this.#recent.length - 1; i >= 0; i--) if (this.#recent[i]!.endsAt! <= now) drop(i);
    const endless = (t: { endsAt: number | undefined }) => t.endsAt === undefined || t.endsAt === Infinity;
    while (this.#recent.filter(endless).length > OWN_TOKENS_KEPT) drop(this.#recent.findIndex(endless));
    while (this.#recent.length > MAX_OWN_TOKENS) drop(0);
  }
}
