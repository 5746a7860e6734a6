// Resolves `ctx.secrets.get(ref)` against the controller's secret store: the runner asks for
// one reference of one job attempt it holds, with its API key; the controller answers only the
// lease holder, with the value encrypted to this runner's current key (JWE). The caller
// registers the value with the job's redaction before the plugin sees it.

import { EdgeError, errorMessage } from "../errors.ts";
import { decryptJwe } from "../secrets/jwe.ts";
import type { RunnerKeyRing } from "../secrets/key-ring.ts";
import { defaultControllerClient, type ControllerClient } from "../platform/controller-client.ts";
import { EDGE_PATHS } from "../protocol/edge-v1.ts";
import { urlOf, type UrlSource } from "../config/url.ts";
import { objectOf, readJsonAnswer } from "../util/json-answer.ts";

/** A secret is at most 64 KiB; sealed to a 4096-bit key and base64url-encoded it stays far under this. */
const MAX_SECRET_ANSWER_BYTES = 1024 * 1024;
import type { SecretResolver } from "../plugins/run-services.ts";

export interface ControllerSecretsOptions {
  /** The controller to ask: the current one after a failover. */
  controllerUrl: UrlSource;
  runnerId: string;
  apiKey: string;
  /** The runner's key ring as it is now (it can change with `keys rotate`). */
  ring: () => RunnerKeyRing;
  client?: ControllerClient;
}

export function controllerSecretResolver(options: ControllerSecretsOptions): (job: { jobId: string; attempt: number }) => SecretResolver {
  const client = options.client ?? defaultControllerClient;
  return ({ jobId, attempt }) => ({
    async get(ref, signal) {
      let response: Response;
      try {
        response = await client.fetch(urlOf(options.controllerUrl) + EDGE_PATHS.resolveSecret, {
          method: "POST",
          headers: { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ v: 1, runnerId: options.runnerId, jobId, attempt, ref }),
          signal,
        });
      } catch (error) {
        throw new EdgeError("connection_failed", `Cannot resolve secret "${ref}": the controller is unreachable (${errorMessage(error)})`, { retryable: true });
      }
      if (response.status === 404) {
        await response.body?.cancel();
        throw new EdgeError("secret_not_found", `Cannot resolve secret "${ref}" for job "${jobId}": the controller has no such secret for this job`);
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new EdgeError("connection_failed", `Cannot resolve secret "${ref}": the controller answered ${response.status}`, { retryable: response.status >= 500 });
      }
      const { jwe } = objectOf(await readJsonAnswer(response, `resolve secret "${ref}"`, MAX_SECRET_ANSWER_BYTES));
      if (typeof jwe !== "string") throw new EdgeError("protocol_error", `Cannot resolve secret "${ref}": the controller's answer has no "jwe"`);
      return decryptJwe(options.ring(), jwe, `secret "${ref}" from the controller`);
    },
  });
}
