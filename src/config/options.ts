// The one table of options. Env vars, CLI flags, `--help` and docs/configuration.md all come
// from here; nothing else defines an option.

export type OptionType = "string" | "names" | "url" | "urls" | "path" | "int" | "duration" | "bool" | "enum" | "host";

/** Which command reads an option; `common` options apply to every long-running command. */
export type OptionScope = "common" | "runner" | "controller";

export interface OptionSpec {
  /** Key in the resolved config object; durations end in `Ms`. */
  readonly name: string;
  readonly type: OptionType;
  readonly scope: OptionScope;
  readonly default?: string | number | boolean;
  readonly help: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** A secret: never printed, never logged; prefer its `…File` sibling. */
  readonly secret?: boolean;
  /** Read by this command only (`update`): others accept it (a shared config file) but do not list it in --help. */
  readonly command?: string;
}

export const OPTIONS = [
  // common
  { name: "configFile", type: "path", scope: "common", help: "JSON config file; its keys are the option names below." },
  { name: "dataDir", type: "path", scope: "common", default: "./.edge-runner", help: "Directory for state: keys, plugin cache, results waiting for the controller, controller queue." },
  { name: "logLevel", type: "enum", scope: "common", default: "info", values: ["debug", "info", "warn", "error"], help: "Lowest level written to the log." },
  { name: "logFormat", type: "enum", scope: "common", default: "auto", values: ["auto", "json", "text"], help: "Log line format; auto is JSON unless stderr is a terminal." },
  { name: "statusHost", type: "host", scope: "common", default: "127.0.0.1", help: "Address the status page binds to; loopback unless you mean otherwise." },
  { name: "statusPort", type: "int", scope: "common", default: 8787, min: 0, max: 65535, help: "Port of the status page (/, /healthz, /readyz, /status, /metrics); 0 picks one." },
  { name: "allowedHosts", type: "string", scope: "common", help: "Comma-separated Host names the status page (and a loopback-bound reference controller) answer besides loopback names and IP addresses; others get 421 (DNS rebinding defence)." },

  // runner
  { name: "runnerId", type: "string", scope: "runner", help: "This runner's id, as registered with the controller." },
  { name: "group", type: "string", scope: "runner", default: "default", help: "Runner group whose queue this runner serves." },
  { name: "controllerUrl", type: "urls", scope: "runner", default: "http://127.0.0.1:8780", max: 16, help: "Base URL of the controller (https://…; http only to loopback or with --insecure). Several replicas: a JSON array in the config file or a comma-separated list, tried in order; the runner moves to the next when one cannot be reached or drops the session, and cycles (up to 16, no duplicates). Admin commands use the first." },
  { name: "apiKey", type: "string", scope: "runner", secret: true, help: "API key for the controller. Prefer apiKeyFile: env and flags can be read by other users." },
  { name: "apiKeyFile", type: "path", scope: "runner", help: "File holding the API key (mode 0600 or stricter)." },
  { name: "transport", type: "enum", scope: "runner", default: "auto", values: ["auto", "websocket", "poll"], help: "Edge transport; auto tries WebSocket and falls back to HTTP long-poll." },
  { name: "insecure", type: "bool", scope: "runner", default: false, help: "Allow plain http/ws to a non-loopback controller. Never in production." },
  { name: "caFile", type: "path", scope: "runner", help: "PEM bundle of extra CAs trusted for the controller's TLS certificate." },
  { name: "concurrency", type: "int", scope: "runner", default: 4, min: 1, max: 1024, help: "Jobs run at once by this runner." },
  { name: "prefetch", type: "int", scope: "runner", default: 16, min: 0, max: 1024, help: "Offered jobs this runner may hold beyond concurrency, to start the moment a slot frees instead of a round trip to the controller later (local prefetch; only with a controller that lists the release feature in its session answer, as the reference controller does: with an older one the runner holds none, takes offers for free slots only, and says so in its log and on /status; meshStack ignores it). Held only as fast as slots free; one not started within prefetchHoldMs, and every one at drain, goes back to the controller without using an attempt. 0: off. See docs/protocol.md (Local prefetch) and docs/performance.md." },
  { name: "prefetchHoldMs", type: "duration", scope: "runner", default: "1s", min: 10, max: 3_600_000, help: "Longest an offered job is held (prefetch) before it goes back to the controller for another runner." },
  { name: "jobTimeoutMs", type: "duration", scope: "runner", default: "15m", help: "Default per-job timeout when the job sets none." },
  { name: "drainTimeoutMs", type: "duration", scope: "runner", default: "60s", help: "On the first SIGTERM, how long running jobs may take to finish." },
  { name: "workerIdleMs", type: "duration", scope: "runner", default: "60s", help: "A plugin worker idle this long is stopped." },
  { name: "workerMaxHeapMb", type: "int", scope: "runner", default: 256, min: 16, max: 65536, help: "Heap cap per plugin worker in MiB; a plugin past it fails its job with plugin_crashed. Enforced on Node and Deno; Bun ignores it." },
  { name: "startJitterMs", type: "duration", scope: "runner", default: "1s", help: "Upper bound of the random wait before the first connect (spreads a fleet restart)." },
  { name: "reconnectMinMs", type: "duration", scope: "runner", default: "500ms", help: "First reconnect backoff ceiling (full jitter below it)." },
  { name: "reconnectMaxMs", type: "duration", scope: "runner", default: "60s", help: "Largest reconnect backoff ceiling." },
  { name: "releaseBaseUrl", type: "url", scope: "runner", command: "update", default: "https://github.com/edge-runner/edge-runner/releases/latest/download", help: "Where `edge-runner update` downloads a release (SHA256SUMS, SHA256SUMS.jws, executables); point it at a mirror for air-gapped hosts." },
  { name: "releasePublicKeyFile", type: "path", scope: "runner", command: "update", help: "Release signing public key (PEM, JWK or JWK set) trusted by `update` instead of the built-in one: for a mirror that signs its own releases." },
  { name: "trustedKeys", type: "path", scope: "runner", help: "Trusted plugin signing keys: a directory of public JWK/JWKS/PEM files or one JWKS file (default <dataDir>/trusted-keys). Re-read before each bundle download." },
  { name: "pluginPolicy", type: "string", scope: "runner", help: "Warm-pool policy per plugin: JSON text or the path of a JSON file mapping \"default\", a plugin name or name@version to {maxWorkers, maxJobsPerWorker, idleMs, prewarm, isolation (thread or process), memoryCeilingMb}. Unset fields come from concurrency, workerIdleMs and workerMaxHeapMb; see docs/plugins.md." },
  { name: "bundleRecheckMs", type: "duration", scope: "runner", default: "30s", help: "How long a verified plugin bundle is reused before the runner checks it with the controller and its trusted keys again; 0 checks for every job." },
  { name: "pluginMaxBytes", type: "int", scope: "runner", default: 33554432, min: 1024, max: 1073741824, help: "Largest plugin bundle downloaded, in bytes; a larger one fails with bundle_too_large." },
  { name: "runnerKeyDir", type: "path", scope: "runner", help: "The runner's key ring for encrypted inputs (runner-key.pem and retained keys; default <dataDir>/keys). See `edge-runner keys` and docs/secrets.md." },
  { name: "keyRingCheckMs", type: "duration", scope: "runner", default: "30s", help: "How often the runner re-reads its key ring and, after `keys rotate` or `keys retire`, tells the controller its public keys; with meshStack, also its outbox key (`keys rotate --outbox`)." },
  { name: "secretEnvNames", type: "names", scope: "runner", max: 256, help: "Environment variables (a JSON array in the config file, or comma-separated) that env:NAME secret references may read; unset: env: references are refused (a job could otherwise read the runner's API key or cloud credentials). See docs/secrets.md." },
  { name: "secretFileDir", type: "path", scope: "runner", help: "Directory that file:/path secret references must resolve into (after .. and symlinks; regular files up to 1 MiB); unset: file: references are refused. See docs/secrets.md." },
  { name: "vaultAddr", type: "url", scope: "runner", help: "HashiCorp Vault for vault: secret references (https://…; http only to loopback or with --insecure). See docs/secrets.md." },
  { name: "vaultTokenFile", type: "path", scope: "runner", help: "File holding a Vault token (mode 0600); renewed before its TTL ends. Or use AppRole (vaultRoleId, vaultSecretIdFile)." },
  { name: "vaultRoleId", type: "string", scope: "runner", help: "Vault AppRole role_id; with vaultSecretIdFile the runner logs in, renews, and logs in again when renewal is refused." },
  { name: "vaultSecretIdFile", type: "path", scope: "runner", help: "File holding the Vault AppRole secret_id (mode 0600)." },
  { name: "vaultAppRoleMount", type: "string", scope: "runner", default: "approle", help: "Mount path of Vault's AppRole auth method." },
  { name: "vaultNamespace", type: "string", scope: "runner", help: "Vault Enterprise namespace, sent as X-Vault-Namespace." },
  { name: "vaultCaFile", type: "path", scope: "runner", help: "PEM CA bundle trusted for Vault's TLS certificate." },
  { name: "vaultTimeoutMs", type: "duration", scope: "runner", default: "10s", help: "Timeout of one Vault call." },
  { name: "gcpCredentialsFile", type: "path", scope: "runner", help: "GCP service-account key file (JSON, mode 0600) for gcp: secret references; without it and with gcpUseMetadata the metadata server's token is used." },
  { name: "gcpUseMetadata", type: "bool", scope: "runner", default: false, help: "Take GCP access tokens from the metadata server (on GCE, GKE, Cloud Run) for gcp: references." },
  { name: "gcpSecretManagerUrl", type: "url", scope: "runner", default: "https://secretmanager.googleapis.com", help: "Secret Manager endpoint (a private endpoint, or a fake in tests)." },
  { name: "gcpTokenUrl", type: "url", scope: "runner", help: "OAuth token endpoint for the service-account assertion; default: the key file's token_uri." },
  { name: "gcpMetadataUrl", type: "url", scope: "runner", default: "http://metadata.google.internal", help: "Base URL of the GCP metadata server." },
  { name: "gcpTimeoutMs", type: "duration", scope: "runner", default: "10s", help: "Timeout of one GCP call." },

  { name: "storageBackend", type: "enum", scope: "runner", default: "local", values: ["local", "s3"], help: "Where jobs' intermediate data (ctx.storage) lives: local (<dataDir>/storage) or s3 (an S3-compatible bucket, see docs/storage.md). Deleted when each job attempt ends." },
  { name: "storageMaxObjectBytes", type: "int", scope: "runner", default: 2147483648, min: 1, max: 5497558138880, help: "Largest object a job may store, in bytes; a larger one fails with storage_limit." },
  { name: "storageMaxJobBytes", type: "int", scope: "runner", default: 10737418240, min: 1, max: 1099511627776000, help: "Largest total of one job attempt's stored objects, in bytes; past it a put fails with storage_limit." },
  { name: "storageMaxJobObjects", type: "int", scope: "runner", default: 100000, min: 1, max: 10000000, help: "Most objects one job attempt may hold at once; a put of one more fails with storage_limit. Bounds the attempt's cleanup and the sweeper's listing." },
  { name: "storageSweepGraceMs", type: "duration", scope: "runner", default: "10m", help: "Objects of this runner's job attempts that no longer run (a crash) are deleted once their newest object is this old." },
  { name: "storageSweepIntervalMs", type: "duration", scope: "runner", default: "5m", help: "How often the runner looks for its orphaned job storage (also at start); 0 only at start." },
  { name: "s3Bucket", type: "string", scope: "runner", help: "Bucket for storageBackend s3 (required with it)." },
  { name: "s3Prefix", type: "string", scope: "runner", default: "edge-runner", help: "Key prefix in the bucket; objects go under <s3Prefix>/<runnerId>/<jobId>/<attempt>/." },
  { name: "s3Region", type: "string", scope: "runner", default: "us-east-1", help: "Region of the bucket (signing region for other S3-compatible stores)." },
  { name: "s3Endpoint", type: "url", scope: "runner", help: "Endpoint of an S3-compatible store or a VPC endpoint (https://…); unset uses AWS S3's own." },
  { name: "s3ForcePathStyle", type: "bool", scope: "runner", default: false, help: "Path-style addressing (endpoint/bucket/key), as MinIO and most S3-compatible stores need." },
  { name: "s3AccessKeyId", type: "string", scope: "runner", help: "Static access key id, with s3SecretAccessKeyFile; unset uses the AWS chain (AWS_* env, shared files, web identity token, instance role)." },
  { name: "s3SecretAccessKeyFile", type: "path", scope: "runner", help: "File holding the secret access key of s3AccessKeyId (mode 0600 or stricter)." },
  { name: "s3CaFile", type: "path", scope: "runner", help: "PEM bundle of extra CAs trusted for the S3 endpoint's TLS certificate." },
  { name: "s3Sse", type: "enum", scope: "runner", default: "none", values: ["none", "AES256", "aws:kms"], help: "Server-side encryption asked for each object." },
  { name: "s3KmsKeyId", type: "string", scope: "runner", help: "KMS key id or ARN for s3Sse aws:kms (unset: the bucket's default key)." },
  { name: "s3PartSizeBytes", type: "int", scope: "runner", default: 8388608, min: 5242880, max: 5368709120, help: "Multipart part size in bytes; an upload holds one part in memory (two while the next is read)." },
  { name: "artifactMaxBytes", type: "int", scope: "common", default: 104857600, min: 1, max: 5368709120, help: "Largest artifact (ctx.artifacts.put) in bytes: the runner refuses a larger one, the reference controller too." },

  // meshStack (controllerKind meshstack): docs/meshstack.md
  { name: "controllerKind", type: "enum", scope: "runner", default: "edge", values: ["edge", "meshstack"], help: "Which controller the runner speaks to: edge (the edge protocol, default) or meshstack (meshStack's building block run API; controllerUrl is meshStack's API base URL and runnerId the runner's UUID there)." },
  { name: "meshstackClientId", type: "string", scope: "runner", help: "meshStack API key client id; its client secret is read from apiKeyFile. Wins over meshstackUsername." },
  { name: "meshstackUsername", type: "string", scope: "runner", help: "meshStack user for the deprecated basic auth, with meshstackPasswordFile." },
  { name: "meshstackPasswordFile", type: "path", scope: "runner", help: "File holding the password of meshstackUsername (mode 0600 or stricter)." },
  { name: "runnerKeyFile", type: "path", scope: "runner", help: "One PEM RSA private key (PKCS#8 or PKCS#1, mode 0600) used as an extra key of the runner's key ring: the key registered with meshcloud's own runner, when moving from it." },
  { name: "pollIntervalMs", type: "duration", scope: "runner", default: "5s", help: "meshStack: how often an idle runner asks for a run (jittered ±20%); it asks again at once after a run ends or a claim returned one." },
  { name: "meshstackStatusIntervalMs", type: "duration", scope: "runner", default: "10s", help: "meshStack: how often a running run's status is sent even when nothing changed (meshStack's liveness signal; an abort is noticed at the next one)." },
  { name: "meshstackOutboxKeyFile", type: "path", scope: "runner", help: "meshStack: key that seals the outbox at rest (each run's token and unsent status updates, with sensitive outputs and plans; mode 0600; created when missing; default outbox.key in runnerKeyDir). A record sealed with another key is not resumed: keep the file with the data directory's state, out of backups that leave the host." },
  { name: "meshstackPlugins", type: "string", scope: "runner", help: "meshStack: JSON text or file mapping an implementation type (MANUAL, TERRAFORM, GITHUB_WORKFLOW, GITLAB_CICD, AZURE_DEVOPS) to the plugin that runs it: \"name[@version]\" or {\"plugin\", \"action\"}; default the built-in integrations." },

  // controller
  { name: "listenHost", type: "host", scope: "controller", default: "127.0.0.1", help: "Address the reference controller listens on." },
  { name: "listenPort", type: "int", scope: "controller", default: 8780, min: 0, max: 65535, help: "Port of the reference controller's API and edge endpoint." },
  { name: "tlsCertFile", type: "path", scope: "controller", help: "PEM certificate chain: the reference controller serves HTTPS and WSS (with tlsKeyFile). Only certificates, each block one DER certificate (the CA bundle rule), checked at start (exit 78)." },
  { name: "tlsKeyFile", type: "path", scope: "controller", help: "PEM private key of tlsCertFile (mode 0600 or stricter): exactly one unencrypted PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block, checked at start (exit 78)." },
  { name: "leaseTtlMs", type: "duration", scope: "controller", default: "30s", help: "How long a claimed job's lease lasts without a heartbeat." },
  { name: "heartbeatIntervalMs", type: "duration", scope: "controller", default: "10s", help: "How often runners are told to heartbeat (must be under leaseTtlMs)." },
  { name: "maxAttempts", type: "int", scope: "controller", default: 3, min: 1, max: 100, help: "Leases a job may get before it fails for good." },
  { name: "leaseGraceMs", type: "duration", scope: "controller", default: "90s", help: "After the reference controller starts or resumes from a pause, no lease expires before this long (runners reconnect and heartbeat first)." },
  { name: "jobLogMaxBytes", type: "int", scope: "controller", default: 67108864, min: 65536, max: 1099511627776, help: "Bytes of log and step events one job may store; past it a truncation marker, then lines are dropped." },
  { name: "eventJournalMaxBytes", type: "int", scope: "controller", default: 4294967296, min: 1048576, max: 1125899906842624, help: "Bytes the reference controller's event journal may hold in all; past it new log lines are dropped (marked once per job)." },
  { name: "jobRetentionMs", type: "duration", scope: "controller", default: "7d", help: "How long a finished job and its logs are kept before the reference controller prunes them." },
  { name: "adminToken", type: "string", scope: "controller", secret: true, help: "Admin API token of the reference controller. Prefer adminTokenFile: env and flags can be read by other users." },
  { name: "adminTokenFile", type: "path", scope: "controller", help: "File holding the admin token (mode 0600); the controller creates it when missing (default <dataDir>/controller/admin-token)." },
  { name: "storeUrl", type: "string", scope: "controller", help: "PostgreSQL for the reference controller's jobs, runners and job logs (postgres://user@host:5432/db; several replicas may share it). Unset: the embedded journal in <dataDir>/controller/. No password in the URL: use storePasswordFile. See docs/scaling.md." },
  { name: "advertiseUrl", type: "url", scope: "controller", help: "With storeUrl: the URL the other replicas reach this one at (e.g. http://<pod IP>:8780); a long-poll call or WebSocket attach of a session this replica holds that reaches another replica is forwarded here. Default: this controller's own listen URL. See docs/controller.md, Replicas." },
  { name: "storePasswordFile", type: "path", scope: "controller", help: "File holding the PostgreSQL password for storeUrl (mode 0600 or stricter)." },
  { name: "secretsKeyFile", type: "path", scope: "controller", help: "Key that seals the controller's secrets and sensitive job outputs at rest (mode 0600; created when missing; default <dataDir>/controller/secrets.key). With storeUrl every replica needs the same file: a replica with another key is refused at start." },
] as const satisfies readonly OptionSpec[];

export type OptionName = (typeof OPTIONS)[number]["name"];

/** `drainTimeoutMs` → `EDGE_RUNNER_DRAIN_TIMEOUT`; durations drop their unit (values carry one). */
export function envName(spec: OptionSpec): string {
  const base = spec.type === "duration" ? spec.name.replace(/Ms$/, "") : spec.name;
  return "EDGE_RUNNER_" + base.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** `drainTimeoutMs` → `--drain-timeout`. */
export function flagName(spec: OptionSpec): string {
  const base = spec.type === "duration" ? spec.name.replace(/Ms$/, "") : spec.name;
  return "--" + base.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}
