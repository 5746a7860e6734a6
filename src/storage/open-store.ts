// Builds the runner's job storage from its config: the local directory by default, S3 when asked.
// The S3 backend and its SDK are imported only here and only for storageBackend "s3", so a runner
// on the local backend never loads them. Config errors are thrown before any network call.

import { join } from "node:path";
import { ConfigError, type Config } from "../config/resolve.ts";
import { readSecretFile } from "../config/secret-file.ts";
import { redactor } from "../log/redact.ts";
import type { Logger } from "../log/logger.ts";
import { LocalObjectStore } from "./local-store.ts";
import type { ObjectStore } from "./object-store.ts";
import type { S3StoreOptions } from "./s3-store.ts";
import { StorageService } from "./storage-service.ts";
import { readCaBundle } from "../config/ca-bundle.ts";

type StorageConfig = Pick<Config, "dataDir" | "storageBackend" | "storageMaxObjectBytes" | "storageMaxJobBytes" | "storageMaxJobObjects" | "storageSweepGraceMs" | "storageSweepIntervalMs"
  | "s3Bucket" | "s3Prefix" | "s3Region" | "s3Endpoint" | "s3ForcePathStyle" | "s3AccessKeyId" | "s3SecretAccessKeyFile" | "s3CaFile" | "s3Sse" | "s3KmsKeyId" | "s3PartSizeBytes">;

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;

/** Checks the S3 options and reads their files; throws ConfigError naming the option. */
export function s3Options(config: StorageConfig): S3StoreOptions {
  if (config.s3Bucket === undefined) throw new ConfigError("s3Bucket", `Missing "s3Bucket": storageBackend "s3" needs a bucket (--s3-bucket, EDGE_RUNNER_S3_BUCKET)`);
  if (!BUCKET.test(config.s3Bucket)) throw new ConfigError("s3Bucket", `Invalid value "${config.s3Bucket}" for "s3Bucket": expected an S3 bucket name (3 to 63 lower-case letters, digits, "." and "-")`);
  const prefix = config.s3Prefix ?? "";
  if (prefix !== "" && (!PREFIX.test(prefix) || prefix.length > 256)) throw new ConfigError("s3Prefix", `Invalid value "${prefix}" for "s3Prefix": expected segments of letters, digits and "!_.*'()-" joined by "/", no leading or trailing "/"`);
  if ((config.s3AccessKeyId === undefined) !== (config.s3SecretAccessKeyFile === undefined)) {
    throw new ConfigError(config.s3AccessKeyId === undefined ? "s3AccessKeyId" : "s3SecretAccessKeyFile", `Options "s3AccessKeyId" and "s3SecretAccessKeyFile" go together: set both, or neither to use the AWS credential chain`);
  }
  if (config.s3KmsKeyId !== undefined && config.s3Sse !== "aws:kms") throw new ConfigError("s3KmsKeyId", `Option "s3KmsKeyId" needs s3Sse "aws:kms", not "${config.s3Sse}"`);
  const options: S3StoreOptions = {
    bucket: config.s3Bucket,
    prefix,
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
    partSizeBytes: config.s3PartSizeBytes,
  };
  if (config.s3Endpoint !== undefined) options.endpoint = config.s3Endpoint;
  if (config.s3AccessKeyId !== undefined && config.s3SecretAccessKeyFile !== undefined) {
    const secretAccessKey = readSecretFile(config.s3SecretAccessKeyFile, "s3SecretAccessKeyFile");
    redactor.add(secretAccessKey);
    options.credentials = { accessKeyId: config.s3AccessKeyId, secretAccessKey };
  } else options.registerSecret = (value) => redactor.add(value);
  // Checked here, not at the first S3 call, where Bun's TLS would refuse it and Node's skip a bad block.
  if (config.s3CaFile !== undefined) options.caPem = readCaBundle(config.s3CaFile, "s3CaFile");
  if (config.s3Sse !== "none") options.sse = config.s3Sse;
  if (config.s3KmsKeyId !== undefined) options.kmsKeyId = config.s3KmsKeyId;
  return options;
}

/** The configured ObjectStore: a dynamic import of the S3 backend only when it is chosen. */
export async function openObjectStore(config: StorageConfig): Promise<ObjectStore> {
  if (config.storageBackend !== "s3") return new LocalObjectStore(join(config.dataDir, "storage"));
  const options = s3Options(config);
  const { createS3Store } = await import("./s3-store.ts");
  return createS3Store(options);
}

export async function openStorageService(config: StorageConfig, runnerId: string, logger: Logger): Promise<StorageService> {
  return new StorageService({
    store: await openObjectStore(config),
    runnerId,
    limits: { maxObjectBytes: config.storageMaxObjectBytes, maxJobBytes: config.storageMaxJobBytes, maxJobObjects: config.storageMaxJobObjects },
    logger,
    sweepGraceMs: config.storageSweepGraceMs,
    sweepIntervalMs: config.storageSweepIntervalMs,
  });
}
