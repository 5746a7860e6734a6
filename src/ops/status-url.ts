// The URL at which this host's runner serves its status page, from statusHost/statusPort:
// a wildcard bind address is reached on loopback.

export function statusBaseUrl(host: string, port: number): string {
  if (port === 0) throw new RangeError(`Cannot reach the status endpoint: "statusPort" is 0 (a random port); set a fixed port`);
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" || host === "[::]" ? "::1" : host;
  const bracketed = reachable.includes(":") && !reachable.startsWith("[") ? `[${reachable}]` : reachable;
  return `http://${bracketed}:${port}`;
}
