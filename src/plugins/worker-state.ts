// The plugin worker lifecycle as a named union with one transition function that refuses any
// move the pool should never make, so a scheduling bug fails loudly instead of double-booking.

export type WorkerState = "starting" | "idle" | "busy" | "stopping";

/** One worker as the pool reports it (the status page shows these). */
export interface WorkerInfo {
  id: number;
  plugin: string;
  state: WorkerState;
  jobsServed: number;
  startedAt: number;
  /** Heap in bytes where the runtime reports it per worker. */
  memoryBytes?: number;
}

/** `stopping` is final: a worker never comes back from it. */
const ALLOWED: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  starting: ["idle", "stopping"],
  idle: ["busy", "stopping"],
  busy: ["idle", "stopping"],
  stopping: [],
};

/** Returns `to` when the move is legal; throws a RangeError naming both states otherwise. */
export function transitionWorker(from: WorkerState, to: WorkerState, workerId?: number): WorkerState {
  if (!ALLOWED[from].includes(to)) {
    const who = workerId === undefined ? "plugin worker" : `plugin worker ${workerId}`;
    throw new RangeError(`Cannot move ${who} from "${from}" to "${to}"`);
  }
  return to;
}
