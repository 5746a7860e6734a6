// The hidden sub-command that starts the plugin host child of process isolation mode. A module
// of its own so the entry point can check for it without loading node:worker_threads (which
// costs every `--version` ~5 ms and ~6 MiB; issue 15).

export const PLUGIN_HOST_COMMAND = "__plugin-host";
