// The controller's secrets in PostgreSQL, so every replica resolves every secret. Values are
// sealed with the controller's key file before they reach the database, exactly as in the file
// store: the database (and its backups) alone holds no value in plain text. At open, the key is
// checked against one value sealed by the key that sealed the rest (controller_key_check). It keeps
// MAX_SECRETS at most, as the file store does, and lists at most as many.

import type { Sql } from "postgres";
import { ConfigError } from "../../config/resolve.ts";
import type { AtRestCipher } from "../../secrets/at-rest.ts";
import { EdgeError } from "../../errors.ts";
import { checkSecret, firstSecretNames, MAX_SECRETS, type ControllerSecrets, type SecretNames } from "../secret-store.ts";
import { storeUnavailable } from "./pg-errors.ts";

const KEY_CHECK_CONTEXT = "edge-runner controller key check";

export class PgSecrets implements ControllerSecrets {
  readonly cipher: AtRestCipher;
  readonly #sql: Sql;

  private constructor(sql: Sql, cipher: AtRestCipher) {
    this.#sql = sql;
    this.cipher = cipher;
  }

  /** Refuses (exit 78) a key that is not the one the database's secrets were sealed with. */
  static async open(sql: Sql, cipher: AtRestCipher): Promise<PgSecrets> {
    await sql`INSERT INTO controller_key_check (id, sealed) VALUES (1, ${cipher.seal(KEY_CHECK_CONTEXT, KEY_CHECK_CONTEXT)}) ON CONFLICT (id) DO NOTHING`;
    const [row] = await sql<Array<{ sealed: string }>>`SELECT sealed FROM controller_key_check WHERE id = 1`;
    try {
      cipher.open(row?.sealed ?? "", KEY_CHECK_CONTEXT);
    } catch {
      throw new ConfigError(
        "secretsKeyFile",
        `Cannot open the PostgreSQL store: this controller's secrets key is not the one that sealed the secrets in the database; give every replica the same "secretsKeyFile"`,
      );
    }
    return new PgSecrets(sql, cipher);
  }

  /**
   * One more row than MAX_SECRETS, so a table filled before the cap (or by another tool) is read
   * bounded and still said to hold more. COLLATE "C": the same order as the file store's sort()
   * (names are ASCII), whatever the database's collation.
   */
  async names(): Promise<SecretNames> {
    try {
      const rows = await this.#sql<Array<{ name: string }>>`SELECT name FROM controller_secrets ORDER BY name COLLATE "C" LIMIT ${MAX_SECRETS + 1}`;
      return firstSecretNames(rows.map((r) => r.name));
    } catch (error) {
      throw storeUnavailable("list secrets", error);
    }
  }

  async get(name: string): Promise<string | undefined> {
    let rows: Array<{ sealed: string }>;
    try {
      rows = await this.#sql<Array<{ sealed: string }>>`SELECT sealed FROM controller_secrets WHERE name = ${name}`;
    } catch (error) {
      throw storeUnavailable(`read secret "${name.slice(0, 130)}"`, error);
    }
    const sealed = rows[0]?.sealed;
    return sealed === undefined ? undefined : this.cipher.open(sealed, name);
  }

  /**
   * At most MAX_SECRETS, as the file store: `GET /api/v1/secrets` answers the names in one list.
   * The count and the insert hold a lock that writers of every replica take in turn (readers do
   * not wait), so two replicas cannot both add the last one.
   */
  async set(name: string, value: string): Promise<void> {
    checkSecret(name, value);
    const sealed = this.cipher.seal(value, name);
    try {
      await this.#sql.begin(async (tx) => {
        await tx`LOCK TABLE controller_secrets IN SHARE ROW EXCLUSIVE MODE`;
        const [held] = await tx<Array<{ count: number; known: boolean }>>`
          SELECT count(*)::int AS count, coalesce(bool_or(name = ${name}), false) AS known FROM controller_secrets`;
        if (held !== undefined && !held.known && held.count >= MAX_SECRETS) {
          throw new EdgeError("conflict", `Cannot store secret "${name}": the controller's PostgreSQL store holds ${held.count} secrets, the most it keeps (${MAX_SECRETS}); delete one first`);
        }
        await tx`INSERT INTO controller_secrets (name, sealed) VALUES (${name}, ${sealed}) ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed`;
      });
    } catch (error) {
      throw storeUnavailable(`store secret "${name}"`, error);
    }
  }

  async delete(name: string): Promise<boolean> {
    try {
      const rows = await this.#sql`DELETE FROM controller_secrets WHERE name = ${name} RETURNING name`;
      return rows.length > 0;
    } catch (error) {
      throw storeUnavailable(`delete secret "${name.slice(0, 130)}"`, error);
    }
  }
}
