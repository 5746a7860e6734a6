// The runner side of the key ring while it runs: loads the ring (or, when the runner has none,
// a key that lasts until it stops, with a warning), tells the controller its public keys once
// started and whenever `keys rotate` or `keys retire` changed the ring on disk, and hands the
// current ring to whatever decrypts.

import type { Logger } from "../log/logger.ts";
import type { ControllerClient } from "../platform/controller-client.ts";
import { EDGE_PATHS } from "../protocol/edge-v1.ts";
import { urlOf, type UrlSource } from "../config/url.ts";
import { RunnerKeyRing, ringKeyOf } from "./key-ring.ts";
import { generateRsaPem } from "./runner-keys.ts";
import { errorMessage } from "../errors.ts";

export interface RunnerKeyServiceOptions {
  dir: string;
  /** The controller told about the keys: the current one after a failover. */
  controllerUrl: UrlSource;
  runnerId: string;
  apiKey: string;
  client: ControllerClient;
  logger: Logger;
  /** How often the ring on disk is checked for a rotation or retirement. */
  checkMs: number;
}

export class RunnerKeyService {
  readonly #o: RunnerKeyServiceOptions;
  #ring: RunnerKeyRing;
  #told = "";
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking: Promise<void> | undefined;
  #firstSettled = false;
  #fresh = true;
  #connected = false;
  #firstTold: () => void = () => {};
  readonly #firstCheck = new Promise<void>((resolve) => (this.#firstTold = () => {
    this.#firstSettled = true;
    resolve();
  }));

  private constructor(options: RunnerKeyServiceOptions, ring: RunnerKeyRing) {
    this.#o = options;
    this.#ring = ring;
  }

  /**
   * Resolves once the first announcement settled: told, or failed while the first session was up
   * (then left to the periodic check). A job may ask the controller for a secret before the
   * controller knows a key to encrypt it to (409 runner_key_unknown): such a request waits here.
   */
  firstAnnouncement(): Promise<void> {
    return this.#firstCheck;
  }

  /** Whether the first announcement has settled (told, or failed and left to the periodic check). */
  get firstAnnouncementSettled(): boolean {
    return this.#firstSettled;
  }

  /**
   * Loads the ring (a config error for a bad key file is thrown before any network call). With
   * no key on disk it makes a throwaway one here, before the runner connects: made after, the
   * key reached the controller after /readyz said ready, and a job submitted with secret inputs
   * at that moment found no key for the group (docs/performance.md, start-up).
   */
  static async load(options: RunnerKeyServiceOptions): Promise<RunnerKeyService> {
    return new RunnerKeyService(options, await loadOrEphemeral(options.dir, options.logger));
  }

  get ring(): RunnerKeyRing {
    return this.#ring;
  }

  /** Adopts the ring on disk when `keys rotate` or `keys retire` changed it. */
  async #reload(): Promise<void> {
    try {
      const fresh = await RunnerKeyRing.load(this.#o.dir);
      if (fresh.keys.length > 0 && fresh.fingerprint !== this.#ring.fingerprint) {
        this.#o.logger.info("Runner key ring changed on disk", { current: fresh.current?.kid, keys: fresh.keys.length });
        this.#ring = fresh;
      }
    } catch (error) {
      this.#o.logger.warn(`Cannot reload the runner key ring: ${errorMessage(error)}`);
    }
  }

  /**
   * Tells the controller the keys (the runner calls it beside its first session request), then
   * checks the ring every `checkMs`.
   */
  start(): void {
    void this.check();
    this.#timer = setInterval(() => void this.check(), Math.max(1000, this.#o.checkMs));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * The first session is up. Keys not told yet (the controller could not be reached when start()
   * sent them) are sent again now, and the first announcement settles with that attempt.
   */
  connected(): void {
    if (this.#connected) return;
    this.#connected = true;
    if (this.#told !== this.#ring.fingerprint) void this.check();
    else this.#firstTold();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** Reloads the ring when it changed on disk and tells the controller until it has accepted the current keys. */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
      if (this.#connected || this.#told === this.#ring.fingerprint) this.#firstTold();
    });
    return this.#checking;
  }

  async #check(): Promise<void> {
    // load() read the ring a moment ago: the first check tells it without reading it again.
    if (this.#fresh) this.#fresh = false;
    else await this.#reload();
    if (this.#told === this.#ring.fingerprint) return;
    try {
      const response = await this.#o.client.fetch(urlOf(this.#o.controllerUrl) + EDGE_PATHS.runnerKeys, {
        method: "POST",
        headers: { authorization: `Bearer ${this.#o.apiKey}`, "content-type": "application/json", "x-edge-runner-id": this.#o.runnerId },
        body: JSON.stringify({ v: 1, runnerId: this.#o.runnerId, keys: this.#ring.publicJwks() }),
        signal: AbortSignal.timeout(30_000),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the controller answered ${response.status}`);
      this.#told = this.#ring.fingerprint;
      this.#o.logger.info("Told the controller the runner's encryption keys", { current: this.#ring.current?.kid, keys: this.#ring.keys.length });
    } catch (error) {
      // Before the first session is up the connection says what is wrong; connected() retries.
      if (!this.#connected) this.#o.logger.debug(`Cannot tell the controller the runner's encryption keys yet (again once connected): ${errorMessage(error)}`);
      else this.#o.logger.warn(`Cannot tell the controller the runner's encryption keys (retrying in ${Math.round(this.#o.checkMs / 1000)} s): ${errorMessage(error)}`);
    }
  }
}

async function loadOrEphemeral(dir: string, logger: Logger): Promise<RunnerKeyRing> {
  const ring = await RunnerKeyRing.load(dir);
  if (ring.keys.length > 0) return ring;
  logger.warn(`No runner key in "${dir}": using a key that lasts until the runner stops, so inputs encrypted to it before a restart cannot be decrypted after; run "edge-runner keygen"`);
  const { privateKey } = await generateRsaPem(2048);
  return new RunnerKeyRing(dir, [ringKeyOf(privateKey, true, "(memory)")]);
}
