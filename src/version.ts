// The version and build commit, replaced at build time by scripts/build.ts (esbuild/bun define).

declare const __EDGE_RUNNER_VERSION__: string | undefined;
declare const __EDGE_RUNNER_COMMIT__: string | undefined;

export const VERSION: string = typeof __EDGE_RUNNER_VERSION__ === "string" ? __EDGE_RUNNER_VERSION__ : "0.1.0-dev";
export const COMMIT: string = typeof __EDGE_RUNNER_COMMIT__ === "string" ? __EDGE_RUNNER_COMMIT__ : "source";
