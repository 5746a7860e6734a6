// The meshStack adapter as configuration builds it: credentials checked (and secrets read) before
// any network call, the key ring loaded with the optional extra key of `runnerKeyFile`, and the
// connection wired to its client, outbox and timers.

import type { KeyObject } from "node:crypto";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { ConfigError, primaryControllerUrl, type Config } from "../../config/resolve.ts";
import { readSecretFile } from "../../config/secret-file.ts";
import { EdgeError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { redactor } from "../../log/redact.ts";
import type { AtRestCipher } from "../../secrets/at-rest.ts";
import { AtRestKeyRing } from "../../secrets/at-rest-ring.ts";
import { RunnerKeyRing } from "../../secrets/key-ring.ts";
import { privateKeyOf } from "../../secrets/ring-private-key.ts";
import { loadMeshstackPrivateKey } from "../../secrets/meshstack-decrypt.ts";
import { readPrivateKeyFile } from "../../secrets/runner-keys.ts";
import { VERSION } from "../../version.ts";
import { MeshstackClient, type MeshstackAuth } from "./api-client.ts";
import { parsePluginChoices } from "./implementations.ts";
import { MeshstackConnection } from "./meshstack-connection.ts";
import { RunOutboxStore } from "./outbox.ts";
import { readConfigText } from "../../config/read-config-text.ts";

export const RUNNER_NAME = "edge-runner";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface MeshstackSettings {
  runnerUuid: string;
  auth: MeshstackAuth;
}

/** Checks the meshStack options and reads the secret files; throws ConfigError (exit 78) before any network call. */
export function meshstackSettings(config: Config): MeshstackSettings {
  const runnerUuid = config.runnerId;
  if (runnerUuid === undefined) throw new ConfigError("runnerId", `Missing "runnerId": set --runner-id to the runner's UUID in meshStack`);
  if (!UUID.test(runnerUuid)) throw new ConfigError("runnerId", `Invalid value "${runnerUuid.slice(0, 80)}" for "runnerId": meshStack runner ids are UUIDs (Platform Builder › Building Block Runners)`);
  // meshStack is one API endpoint; a list is for replicas of the reference controller.
  if (config.controllerUrl.length > 1) throw new ConfigError("controllerUrl[1]", `Invalid value for "controllerUrl": controllerKind meshstack takes one URL (meshStack's API), got ${config.controllerUrl.length}`);
  if (config.meshstackClientId !== undefined) {
    const secret = config.apiKey ?? (config.apiKeyFile !== undefined ? readSecretFile(config.apiKeyFile, "apiKeyFile") : undefined);
    if (secret === undefined) throw new ConfigError("apiKeyFile", `Missing the meshStack API key secret of client "${config.meshstackClientId}": set --api-key-file`);
    redactor.add(secret);
    return { runnerUuid, auth: { kind: "apiKey", clientId: config.meshstackClientId, clientSecret: secret } };
  }
  if (config.meshstackUsername !== undefined) {
    if (config.meshstackPasswordFile === undefined) throw new ConfigError("meshstackPasswordFile", `Missing the password of meshStack user "${config.meshstackUsername}": set --meshstack-password-file`);
    const password = readSecretFile(config.meshstackPasswordFile, "meshstackPasswordFile");
    redactor.add(password);
    return { runnerUuid, auth: { kind: "basic", username: config.meshstackUsername, password } };
  }
  throw new ConfigError("meshstackClientId", `Missing meshStack credentials: set --meshstack-client-id with --api-key-file (an API key), or --meshstack-username with --meshstack-password-file`);
}

/** The extra key of `runnerKeyFile`, checked like every private key file. */
export async function loadExtraKey(file: string | undefined): Promise<KeyObject | undefined> {
  if (file === undefined) return undefined;
  try {
    return loadMeshstackPrivateKey(await readPrivateKeyFile(file), `runnerKeyFile "${file}"`);
  } catch (error) {
    throw new ConfigError("runnerKeyFile", errorMessage(error));
  }
}

/** The runner's keys for meshStack: the ring (current first), then the extra key; reloaded after a rotation. */
export async function meshstackKeys(config: Config, logger: Logger): Promise<() => readonly KeyObject[]> {
  const dir = config.runnerKeyDir ?? join(config.dataDir, "keys");
  const extra = await loadExtraKey(config.runnerKeyFile);
  let ring = await RunnerKeyRing.load(dir);
  let keys = [...ring.keys.map(privateKeyOf), ...(extra === undefined ? [] : [extra])];
  if (keys.length === 0) logger.warn(`No runner key in "${dir}" and no runnerKeyFile: runs with sensitive inputs will fail; run "edge-runner keygen" and register "edge-runner keys cert" in meshStack`);
  let checkedAt = Date.now();
  let reloading = false;
  return () => {
    if (!reloading && Date.now() - checkedAt > Math.max(1000, config.keyRingCheckMs)) {
      reloading = true;
      checkedAt = Date.now();
      void RunnerKeyRing.load(dir)
        .then((next) => {
          if (next.fingerprint !== ring.fingerprint) logger.info(`Runner key ring changed: ${next.keys.length} key(s)`);
          ring = next;
          keys = [...ring.keys.map(privateKeyOf), ...(extra === undefined ? [] : [extra])];
        })
        .catch((error: unknown) => logger.error(`Cannot reload the runner key ring: ${errorMessage(error)}`))
        .finally(() => (reloading = false));
    }
    return keys;
  };
}

export function meshstackClient(config: Config, settings: MeshstackSettings, fetchImpl?: typeof fetch): MeshstackClient {
  return new MeshstackClient({
    baseUrl: primaryControllerUrl(config),
    auth: settings.auth,
    runnerName: RUNNER_NAME,
    runnerVersion: VERSION,
    nodeId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    // The login's tokens are the runner's own secrets, like the client secret above.
    redaction: redactor,
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  });
}

/** The outbox's key file: `meshstackOutboxKeyFile`, or outbox.key beside the key ring. */
export function outboxKeyFile(config: Config): string {
  return config.meshstackOutboxKeyFile ?? join(config.runnerKeyDir ?? join(config.dataDir, "keys"), "outbox.key");
}

/** The outbox's current key; a key file others can read (or not a key) is a config error (exit 78), before any network call. */
export function outboxCipher(config: Config): AtRestCipher {
  return outboxKeyRing(config).current.cipher;
}

/** The outbox's key file with the keys a rotation kept beside it; refused like outboxCipher(). */
export function outboxKeyRing(config: Config): AtRestKeyRing {
  const file = outboxKeyFile(config);
  try {
    return AtRestKeyRing.load(file, "meshStack outbox")!;
  } catch (error) {
    // The file's own refusals name it; an error of the file system (a read-only key directory) gets the context.
    throw new ConfigError("meshstackOutboxKeyFile", error instanceof EdgeError ? error.message : `Cannot read or create the meshStack outbox key file "${file}": ${errorMessage(error)}; set --meshstack-outbox-key-file to a writable place`);
  }
}

/**
 * The outbox key ring as a running runner sees it: read at start (errors are config errors), then
 * again at most every keyRingCheckMs, so `edge-runner keys rotate --outbox` takes effect without a
 * restart. A reload that fails keeps the keys in hand and logs why.
 */
export function outboxKeys(config: Config, logger: Logger, now: () => number = Date.now): () => AtRestKeyRing {
  let ring = outboxKeyRing(config);
  let checkedAt = now();
  return () => {
    if (now() - checkedAt < Math.max(1000, config.keyRingCheckMs)) return ring;
    checkedAt = now();
    try {
      const next = AtRestKeyRing.load(outboxKeyFile(config), "meshStack outbox")!;
      if (next.current.id !== ring.current.id) logger.info(`meshStack outbox key rotated: "${next.current.id}" is current; records sealed with "${ring.current.id}" are resealed`);
      ring = next;
    } catch (error) {
      logger.error(`Cannot reload the meshStack outbox keys: ${errorMessage(error)}; sealing with "${ring.current.id}" meanwhile`);
    }
    return ring;
  };
}

export async function createMeshstackConnection(config: Config, logger: Logger, options: { onTick?: (loop: string, maxSilenceMs: number) => void; fetch?: typeof fetch } = {}): Promise<MeshstackConnection> {
  const settings = meshstackSettings(config);
  let plugins;
  try {
    plugins = parsePluginChoices(config.meshstackPlugins, readConfigText);
  } catch (error) {
    throw new ConfigError("meshstackPlugins", errorMessage(error));
  }
  return new MeshstackConnection({
    client: meshstackClient(config, settings, options.fetch),
    runnerUuid: settings.runnerUuid,
    store: new RunOutboxStore(config.dataDir, outboxKeys(config, logger)),
    keys: await meshstackKeys(config, logger),
    plugins,
    logger,
    pollIntervalMs: Math.max(100, config.pollIntervalMs),
    statusIntervalMs: Math.max(100, config.meshstackStatusIntervalMs),
    retryMinMs: config.reconnectMinMs,
    retryMaxMs: config.reconnectMaxMs,
    ...(options.onTick === undefined ? {} : { onTick: options.onTick }),
  });
}
