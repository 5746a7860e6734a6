// Published plugin bundles in PostgreSQL, so a version published through one replica is served
// by all. The same checks as the file store (checkUpload), the same immutability: a version's
// bytes never change, only its signature may, decided under a row lock so two replicas
// publishing the same version at once cannot interleave.

import type { Sql } from "postgres";
import { EdgeError } from "../../errors.ts";
import { DEFAULT_MAX_BUNDLE_BYTES } from "../../plugin-bundles/bundle-fetcher.ts";
import { digestEquals } from "../../plugin-bundles/digest.ts";
import { assertPluginRef, parseManifest, pluginRef, type BundleManifest } from "../../plugin-bundles/manifest.ts";
import { checkUpload, type ControllerBundles, type PutBundleInput, type StoredBundle } from "../bundle-store.ts";
import { storeUnavailable } from "./pg-errors.ts";

/** A download reads this many bytes per query, so a large bundle is never held whole. */
const READ_CHUNK_BYTES = 1024 * 1024;

export class PgBundles implements ControllerBundles {
  readonly maxBytes: number;
  readonly #sql: Sql;

  constructor(sql: Sql, maxBytes = DEFAULT_MAX_BUNDLE_BYTES) {
    this.#sql = sql;
    this.maxBytes = maxBytes;
  }

  async put(input: PutBundleInput): Promise<{ created: boolean; manifest: BundleManifest }> {
    const ref = pluginRef(input.name, input.version);
    const manifest = checkUpload(input, ref, this.maxBytes);
    try {
      return await this.#sql.begin(async (tx) => {
        const inserted = await tx`
          INSERT INTO plugin_bundles (name, version, manifest, signature, bundle)
          VALUES (${input.name}, ${input.version}, ${tx.json(manifest as never)}, ${input.signature}, ${Buffer.from(input.bundle.buffer, input.bundle.byteOffset, input.bundle.byteLength)})
          ON CONFLICT (name, version) DO NOTHING RETURNING name`;
        if (inserted.length > 0) return { created: true, manifest };
        const [existing] = await tx<Array<{ manifest: unknown }>>`SELECT manifest FROM plugin_bundles WHERE name = ${input.name} AND version = ${input.version} FOR UPDATE`;
        const digest = parseManifest(existing?.manifest).digest;
        if (!digestEquals(digest, manifest.digest)) {
          throw new EdgeError("conflict", `Cannot store bundle "${ref}": version already published with digest "${digest}"; publish a new version`);
        }
        await tx`UPDATE plugin_bundles SET manifest = ${tx.json(manifest as never)}, signature = ${input.signature} WHERE name = ${input.name} AND version = ${input.version}`;
        return { created: false, manifest };
      });
    } catch (error) {
      throw storeUnavailable(`store bundle "${ref}"`, error);
    }
  }

  async get(name: string, version: string): Promise<StoredBundle | undefined> {
    try {
      assertPluginRef(name, version);
    } catch {
      return undefined;
    }
    let rows: Array<{ manifest: unknown; signature: string; size: number }>;
    try {
      rows = await this.#sql<Array<{ manifest: unknown; signature: string; size: number }>>`
        SELECT manifest, signature, octet_length(bundle) AS size FROM plugin_bundles WHERE name = ${name} AND version = ${version}`;
    } catch (error) {
      throw storeUnavailable(`read bundle "${pluginRef(name, version)}"`, error);
    }
    const row = rows[0];
    if (row === undefined) return undefined;
    const sql = this.#sql;
    const size = Number(row.size);
    return {
      manifest: parseManifest(row.manifest),
      signature: row.signature,
      size,
      body: () => {
        let at = 0;
        return new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (at >= size) return controller.close();
            // substring() on bytea counts from 1.
            const [piece] = await sql<Array<{ data: Uint8Array }>>`
              SELECT substring(bundle FROM ${at + 1} FOR ${READ_CHUNK_BYTES}) AS data FROM plugin_bundles WHERE name = ${name} AND version = ${version}`;
            if (piece === undefined || piece.data.byteLength === 0) return controller.error(new EdgeError("bundle_not_found", `Cannot read bundle "${pluginRef(name, version)}": it is gone`));
            at += piece.data.byteLength;
            controller.enqueue(new Uint8Array(piece.data));
          },
        });
      },
    };
  }
}
