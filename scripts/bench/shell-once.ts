// The process-per-job equivalent of a shell job: a fresh runtime process that runs `true` in a
// child (as the shell plugin does), prints one line and exits. Spawned once per job by the bench.

import { spawn } from "node:child_process";

const child = spawn("true", [], { stdio: "ignore", detached: true });
child.on("close", (code) => {
  process.stdout.write(`exit ${code}\n`);
});
