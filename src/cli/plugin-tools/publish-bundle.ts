// `plugin publish`: upload a bundle with its manifest and signature to the controller
// (PUT /api/v1/plugins/:name/:version, see bundle-routes.ts), reporting bytes sent as it goes.

import { EdgeError, errorMessage } from "../../errors.ts";
import { MANIFEST_HEADER, SIGNATURE_HEADER } from "../../reference-controller/bundle-routes.ts";
import { parseManifest, pluginRef, type BundleManifest } from "../../plugin-bundles/manifest.ts";
import { publicUrl } from "../../config/url.ts";
import { objectOf } from "../../util/json-answer.ts";
import { readLimitedText } from "../../util/read-limited.ts";
import { readFileBounded } from "../../util/read-file-bounded.ts";
import { outboundFetch } from "../../platform/outbound-fetch.ts";

export interface PublishBundleOptions {
  bundlePath: string;
  manifestPath: string;
  signaturePath: string;
  controllerUrl: string;
  adminToken: string;
  fetch?: typeof fetch;
  /** Called as the body is read by the HTTP client. */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

export interface PublishResult {
  manifest: BundleManifest;
  /** False when the version existed and only its signature was replaced. */
  created: boolean;
}

const CHUNK = 64 * 1024;
const MAX_PUBLISH_ANSWER_BYTES = 64 * 1024;

export async function publishBundle(options: PublishBundleOptions): Promise<PublishResult> {
  // The bundle's bound is the controller's (it refuses a bigger one); a manifest or a signature
  // is a few KiB, so a bigger file is not one.
  const read = async (path: string, what: string, maxBytes = what === "bundle" ? Number.MAX_SAFE_INTEGER : 1024 * 1024) => {
    try {
      return Buffer.from(await readFileBounded(path, maxBytes));
    } catch (error) {
      throw new EdgeError("input_invalid", `Cannot publish: cannot read ${what} "${path}" (${errorMessage(error)})`);
    }
  };
  const bundle = await read(options.bundlePath, "bundle");
  let manifest: BundleManifest;
  try {
    manifest = parseManifest(JSON.parse((await read(options.manifestPath, "manifest")).toString("utf8")));
  } catch (error) {
    if (error instanceof EdgeError) throw error;
    throw new EdgeError("input_invalid", `Cannot publish: manifest "${options.manifestPath}" is invalid (${errorMessage(error)})`);
  }
  const signature = (await read(options.signaturePath, "signature")).toString("utf8").trim();
  const ref = pluginRef(manifest.name, manifest.version);
  const url = `${options.controllerUrl.replace(/\/+$/, "")}/api/v1/plugins/${encodeURIComponent(manifest.name)}/${encodeURIComponent(manifest.version)}`;

  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bundle.byteLength) {
        controller.close();
        return;
      }
      const chunk = bundle.subarray(sent, sent + CHUNK);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
      options.onProgress?.(sent, bundle.byteLength);
    },
  });
  let response: Response;
  try {
    response = await (options.fetch ?? outboundFetch)(url, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${options.adminToken}`,
        "content-type": "application/octet-stream",
        [MANIFEST_HEADER]: Buffer.from(JSON.stringify(manifest)).toString("base64url"),
        [SIGNATURE_HEADER]: signature,
      },
      body,
      // Needed by Node's fetch for a streamed request body.
      duplex: "half",
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    } as RequestInit);
  } catch (error) {
    throw new EdgeError("connection_failed", `Cannot publish bundle "${ref}" to "${publicUrl(options.controllerUrl)}": ${errorMessage(error)}`, { retryable: true });
  }
  // The answer is `{"created"}` or `{"error"}`; more is read no further.
  const text = await readLimitedText(response.body, {
    maxBytes: MAX_PUBLISH_ANSWER_BYTES,
    tooLarge: () => {
      throw new EdgeError("protocol_error", `Cannot publish bundle "${ref}": the controller answered ${response.status} with a body larger than ${MAX_PUBLISH_ANSWER_BYTES} bytes`);
    },
  });
  let answer: { created?: unknown; error?: { code?: unknown; message?: unknown } } = {};
  try {
    answer = objectOf(JSON.parse(text)) as typeof answer;
  } catch {
    // Not JSON: the status line says enough below.
  }
  if (!response.ok) {
    const code = typeof answer.error?.code === "string" ? answer.error.code : response.status === 401 ? "unauthorized" : "internal";
    const message = typeof answer.error?.message === "string" ? answer.error.message : `the controller answered ${response.status}`;
    throw new EdgeError(code as never, `Cannot publish bundle "${ref}": ${message}`);
  }
  return { manifest, created: answer.created === true };
}
