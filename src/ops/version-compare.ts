// Comparing release versions ("1.2.3", "1.2.3-rc.1") so `update` can refuse a downgrade.

/** Negative when a < b, 0 when equal, positive when a > b (semver precedence, build metadata ignored). */
export function compareVersions(a: string, b: string): number {
  const [coreA = "", preA] = a.split("+")[0]!.split(/-(.*)/s);
  const [coreB = "", preB] = b.split("+")[0]!.split(/-(.*)/s);
  const partsA = coreA.split(".").map(Number), partsB = coreB.split(".").map(Number);
  for (let i = 0; i < Math.max(partsA.length, partsB.length); i++) {
    const diff = (partsA[i] ?? 0) - (partsB[i] ?? 0);
    if (diff !== 0 && !Number.isNaN(diff)) return Math.sign(diff);
  }
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  const idsA = preA.split("."), idsB = preB.split(".");
  for (let i = 0; i < Math.max(idsA.length, idsB.length); i++) {
    const x = idsA[i], y = idsB[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined, ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) return Math.sign(nx - ny);
    if (nx !== undefined) return -1;
    if (ny !== undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** "edge-runner 1.2.3 (commit abc, bun)" → "1.2.3"; undefined when the text is not a version line. */
export function parseVersionLine(text: string): string | undefined {
  return /^edge-runner (\d+\.\d+\.\d+\S*)/m.exec(text)?.[1];
}
