// Resolves a job's secret references just before (and while) it runs: one place that parses the
// reference, checks the job declared it, picks the backend (Vault and GCP loaded only at first
// use), and records each backend's health and a counter per backend and outcome for /status and
// /metrics. A backend that is down fails the job that needs it, never the runner's /healthz.

import { EdgeError, serializeError } from "../../errors.ts";
import type { GcpBackend, GcpBackendOptions } from "./gcp-backend.ts";
import { readEnvReference, readFileReference, type LocalSourcesOptions } from "./local-sources.ts";
import { BACKENDS, parseReference, type Backend, type SecretReference } from "./reference.ts";
import { holdsOwnCredential } from "./own-credential.ts";
import type { VaultBackend, VaultBackendOptions } from "./vault-backend.ts";
import { SingleFlight } from "../../util/single-flight.ts";

export interface BackendHealth {
  backend: Backend;
  /** False when the runner has no configuration for it (vault, gcp; env and file are off unless allowed). */
  configured: boolean;
  lastSuccessAt?: number;
  lastErrorAt?: number;
  /** The last error's code and message (names the reference and backend, never a value). */
  lastError?: { code: string; message: string };
}

export type ResolveOutcome = "ok" | "not_found" | "denied" | "unavailable" | "invalid" | "cancelled" | "error";

export interface SecretBackendsOptions extends LocalSourcesOptions {
  vault?: Omit<VaultBackendOptions, "registerSecret">;
  gcp?: Omit<GcpBackendOptions, "registerSecret">;
  /** The runner's own scope: backend tokens are registered there. */
  registerSecret: (value: string) => void;
  /** Secrets in the controller's store (controller: and bare names). */
  controller?: (ref: string, job: { jobId: string; attempt: number }, signal: AbortSignal) => Promise<string>;
  /**
   * The credentials the runner connects to its controller with (the edge API key; meshStack's API
   * key client secret or password): refused in a value from every backend, the controller's store
   * included, which serves other secrets through the controller but never the runner's own key.
   */
  controllerCredentials?: readonly string[];
  now?: () => number;
}

export class SecretBackends {
  readonly #o: SecretBackendsOptions;
  readonly #now: () => number;
  readonly #health = new Map<Backend, BackendHealth>();
  readonly #counts = new Map<string, number>();
  #vault: Promise<VaultBackend> | undefined;
  #gcp: Promise<GcpBackend> | undefined;
  /** Reads under way, by job attempt and reference: a second read of the same one waits for the first. */
  readonly #inFlight = new SingleFlight<string>();

  constructor(options: SecretBackendsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    for (const backend of BACKENDS) {
      const configured = {
        vault: options.vault !== undefined,
        gcp: options.gcp !== undefined,
        controller: options.controller !== undefined,
        env: (options.envNames?.length ?? 0) > 0,
        file: options.fileDir !== undefined,
      }[backend];
      this.#health.set(backend, { backend, configured });
    }
  }

  /**
   * Resolves `raw` for a job that declared `declared`; rejects with a coded EdgeError naming the
   * reference. Concurrent reads of one reference by one job attempt share one backend read (and
   * count once); a read after it settled reads again.
   */
  resolve(raw: string, job: { jobId: string; attempt: number; declared?: readonly string[] }, signal: AbortSignal): Promise<string> {
    const key = `${job.jobId}\u0000${job.attempt}\u0000${raw}`;
    // No signal to the flight: the read itself takes the job's (one attempt, one signal).
    return this.#inFlight.run(key, () => this.#resolveOnce(raw, job, signal));
  }

  async #resolveOnce(raw: string, job: { jobId: string; attempt: number; declared?: readonly string[] }, signal: AbortSignal): Promise<string> {
    let ref: SecretReference;
    try {
      ref = parseReference(raw);
    } catch (error) {
      this.#count("controller", "invalid");
      throw error;
    }
    const started = this.#now();
    try {
      // The controller checks declarations for its own store; every other backend is checked here.
      if (ref.backend !== "controller" && job.declared?.includes(raw) !== true) {
        throw new EdgeError("secret_not_found", `Cannot resolve secret "${raw}" for job "${job.jobId}": the job did not declare it at submit (list it in "secrets")`);
      }
      const value = await this.#read(ref, job, signal);
      // One rule for every backend (env: always refused it): an empty value is no secret, and a
      // job that ran with "" in place of its password would fail later, far from the cause.
      if (value === "") throw new EdgeError("secret_not_found", `Cannot resolve secret "${raw}": its value is empty`);
      // Vault and GCP refuse their own credentials; a value from any backend must not hold the
      // others' either (a Vault secret_id kept in Secret Manager, a key file in the controller's
      // store or in secretFileDir, a token in a variable listed in secretEnvNames), nor the
      // runner's controller API key from any backend at all.
      if (holdsOwnCredential(value, await this.#credentialsOutside(ref.backend))) {
        throw new EdgeError("secret_permission_denied", `Cannot resolve secret "${raw}": the value holds one of the runner's own credentials (its controller API key, its Vault token or AppRole ids, its GCP key or access token), never readable by jobs; refused`);
      }
      this.#record(ref.backend, "ok", started);
      return value;
    } catch (error) {
      const wire = serializeError(error);
      this.#record(ref.backend, outcomeOf(wire.code), started, wire);
      throw error;
    }
  }

  health(): BackendHealth[] {
    return [...this.#health.values()].map((h) => ({ ...h }));
  }

  /** Counts by backend and outcome, for /metrics. */
  counts(): Array<{ backend: Backend; outcome: ResolveOutcome; count: number }> {
    return [...this.#counts].map(([key, count]) => {
      const [backend, outcome] = key.split("|") as [Backend, ResolveOutcome];
      return { backend, outcome, count };
    });
  }

  async #read(ref: SecretReference, job: { jobId: string; attempt: number }, signal: AbortSignal): Promise<string> {
    switch (ref.backend) {
      case "controller":
        if (this.#o.controller === undefined) throw new EdgeError("secret_backend_unavailable", `Cannot resolve secret "${ref.raw}": this runner has no controller secret store`);
        return this.#o.controller(ref.raw, job, signal);
      case "env":
        return readEnvReference(ref, this.#o);
      case "file":
        return readFileReference(ref, this.#o);
      case "vault": {
        const vault = this.#o.vault;
        if (vault === undefined) throw new EdgeError("secret_backend_unavailable", `Cannot resolve secret "${ref.raw}": this runner has no Vault configured (vaultAddr)`);
        this.#vault ??= import("./vault-backend.ts").then(({ VaultBackend }) => new VaultBackend({ ...vault, registerSecret: this.#o.registerSecret }));
        return (await this.#vault).read(ref, signal);
      }
      case "gcp": {
        const gcp = this.#o.gcp;
        if (gcp === undefined) throw new EdgeError("secret_backend_unavailable", `Cannot resolve secret "${ref.raw}": this runner has no GCP Secret Manager configured (gcpCredentialsFile or gcpUseMetadata)`);
        this.#gcp ??= import("./gcp-backend.ts").then(({ GcpBackend }) => new GcpBackend({ ...gcp, registerSecret: this.#o.registerSecret }));
        return (await this.#gcp).read(ref, signal);
      }
    }
  }

  /**
   * The runner's controller credentials, and its Vault and GCP credentials but those of `backend`
   * itself (it refused them already): from the backend where it is loaded (tokens it obtained
   * included), else as configured (its token, AppRole ids, the key file's private_key). The
   * controller credentials whatever the backend: no backend refuses them on its own.
   */
  async #credentialsOutside(backend: Backend): Promise<string[]> {
    const own: string[] = [...(this.#o.controllerCredentials ?? [])];
    const vault = this.#o.vault;
    if (backend !== "vault" && vault !== undefined) {
      const loaded = await this.#vault?.catch(() => undefined);
      if (loaded !== undefined) own.push(...loaded.ownCredentials);
      else for (const value of [vault.token, vault.secretId, vault.roleId]) if (value !== undefined) own.push(value);
    }
    const gcp = this.#o.gcp;
    if (backend !== "gcp" && gcp !== undefined) {
      const loaded = await this.#gcp?.catch(() => undefined);
      if (loaded !== undefined) own.push(...loaded.ownCredentials());
      else {
        const key = privateKeyOf(gcp.serviceAccountJson);
        if (key !== undefined) own.push(key);
      }
    }
    return own;
  }

  #record(backend: Backend, outcome: ResolveOutcome, at: number, error?: { code: string; message: string }): void {
    this.#count(backend, outcome);
    const health = this.#health.get(backend)!;
    // A missing or undeclared secret says nothing about the backend's health.
    if (outcome === "ok" || outcome === "not_found") health.lastSuccessAt = at;
    // A job cancelled (or the runner stopping) ended the read: nothing was learned of the backend.
    else if (outcome === "cancelled") return;
    else if (error !== undefined) {
      health.lastErrorAt = at;
      health.lastError = { code: error.code, message: error.message.slice(0, 500) };
    }
  }

  #count(backend: Backend, outcome: ResolveOutcome): void {
    const key = `${backend}|${outcome}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }
}

/** A service-account key file's private_key, if it is one (GcpBackend refuses the file when it loads). */
function privateKeyOf(serviceAccountJson: string | undefined): string | undefined {
  if (serviceAccountJson === undefined) return undefined;
  try {
    const key: unknown = (JSON.parse(serviceAccountJson) as { private_key?: unknown } | null)?.private_key;
    return typeof key === "string" && key !== "" ? key : undefined;
  } catch {
    return undefined;
  }
}

function outcomeOf(code: string): ResolveOutcome {
  switch (code) {
    case "secret_not_found": return "not_found";
    case "secret_permission_denied": case "unauthorized": case "forbidden": return "denied";
    case "secret_backend_unavailable": case "connection_failed": return "unavailable";
    case "secret_reference_invalid": case "config_invalid": return "invalid";
    case "job_cancelled": return "cancelled";
    default: return "error";
  }
}
