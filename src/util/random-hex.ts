// Random hex for temp file names, from the WebCrypto global: importing node:crypto only for
// randomBytes cost every runner start ~4 ms of CPU on Bun (docs/performance.md, start-up).

export function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}
