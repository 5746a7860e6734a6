// A secret given as a command-line flag (--api-key, --admin-token) sits in the process's
// arguments, which every local user can read (/proc/<pid>/cmdline, `ps`) for as long as the
// process runs, and which the shell may keep in its history. Node can overwrite them
// (process.title); the compiled executable (Bun) cannot, so the runner and the controller say so
// at start instead, naming the file option that keeps the value out of sight.

export function secretFlagWarning(flag: string): string {
  return `Option "${flag}" puts a secret on the command line: every local user can read it in the process list (/proc/<pid>/cmdline, ps) while this process runs; use "${flag}-file" instead`;
}
