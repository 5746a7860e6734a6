// What an edge connection is opened with (runner-service.ts builds it from the config; tests
// pass a scripted opener, timers and randomness).

import type { Logger } from "../../log/logger.ts";
import type { Timers } from "../../util/time.ts";
import type { TransportOpener } from "./opener.ts";
import type { TransportKind } from "./transport.ts";
import type { ResultSpooling } from "./result-spool-front.ts";
import type { ControllerClient } from "../../platform/controller-client.ts";

export interface EdgeConnectionOptions {
  /** One controller, or replicas tried in order with failover (see controller-urls.ts). */
  controllerUrl: string | readonly string[];
  runnerId: string;
  group: string;
  apiKey: string;
  version: string;
  transport: "auto" | TransportKind;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  startJitterMs: number;
  logger: Logger;
  /** HTTP and WebSocket clients (with the configured CA); the runtime's own by default. */
  client?: ControllerClient;
  timers?: Pick<Timers, "now" | "sleep">;
  random?: () => number;
  /** Called on each loop tick with how long the loop may stay silent, for /healthz. */
  onTick?: (loop: string, maxSilenceMs: number) => void;
  onProtocolError?: () => void;
  onReconnect?: () => void;
  /** Where results wait across restarts while the controller has not acknowledged them (result-spool.ts, loaded through result-spool-front.ts). */
  resultSpool?: ResultSpooling;
  /** Log lines of a job dropped because the controller did not take them fast enough (job-outbox.ts). */
  onLogLinesDropped?: (lines: number) => void;
  /** Started with --insecure: every (re)connect logs a warning, so it is never silent. */
  insecure?: boolean;
  /** Called for every attempt to open a session that failed. */
  onConnectFailure?: () => void;
  /** Silence before a liveness probe, and before the session is given up (5 s and 10 s). */
  livenessProbeMs?: number;
  livenessTimeoutMs?: number;
  /** A transport attach the controller has not answered by then is given up and retried (CONTROLLER_CALL_TIMEOUT_MS, 30 s): the one default, applied by EdgeConnection; the transports take the value as given. */
  attachTimeoutMs?: number;
  /** Opens sessions and transports: over the network by default, scripted in tests. */
  opener?: TransportOpener;
}
