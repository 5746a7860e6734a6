// What the status endpoint shows: the runner's snapshot. The types live with their owners (the
// runner, its lifecycle and loops, the plugin pool); the status files import them from here.

export type { HeldJobInfo, RecentResultInfo, RunnerSnapshot, RunningJobInfo } from "../runner/runner-snapshot.ts";
export type { RunnerState } from "../runner/lifecycle.ts";
export type { LoopInfo } from "../runner/loop-monitor.ts";
export type { WorkerInfo } from "../plugins/worker-state.ts";
