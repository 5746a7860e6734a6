// Names of the files of a release, and which executable fits the machine we run on.

/** Every file a release publishes; SHA256SUMS lists all of them but itself and its signature. */
export const RELEASE_FILES = {
  checksums: "SHA256SUMS",
  signature: "SHA256SUMS.jws",
  nodeBundle: "edge-runner-node.tar.gz",
  unit: "edge-runner.service",
  installer: "install.sh",
} as const;

export type ReleaseArch = "x64" | "arm64";
export const RELEASE_ARCHES: readonly ReleaseArch[] = ["x64", "arm64"];

export function executableAsset(arch: ReleaseArch): string {
  return `edge-runner-linux-${arch}`;
}

/** The executable asset for `platform`/`arch` (node's names), or a RangeError naming what is missing. */
export function assetFor(platform: string, arch: string): string {
  if (platform !== "linux") throw new RangeError(`Cannot pick a release executable for OS "${platform}": releases exist for linux only`);
  if (arch !== "x64" && arch !== "arm64") throw new RangeError(`Cannot pick a release executable for CPU "${arch}": releases exist for x64 and arm64`);
  return executableAsset(arch);
}
