// Stop signals for long-running commands: the first SIGTERM/SIGINT asks for a graceful stop,
// the second for an immediate one, a third is left to the default handler (exit).

export function onStopSignals(handlers: { first: (signal: string) => void; second: (signal: string) => void }): () => void {
  let count = 0;
  const handle = (signal: string) => {
    count++;
    if (count === 1) handlers.first(signal);
    else if (count === 2) handlers.second(signal);
    else process.exit(130);
  };
  const onTerm = () => handle("SIGTERM");
  const onInt = () => handle("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  return () => {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
  };
}
