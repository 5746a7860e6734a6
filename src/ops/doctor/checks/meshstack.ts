// Doctor check for controllerKind meshstack, without claiming a run: the credentials log in, the
// runner UUID is registered in meshStack, and the runner's keys decrypt a value encrypted with
// meshStack's scheme to the public key meshStack has registered for the runner (its certificate);
// first, without the network, that the outbox key file (when there is one) is private, and which
// outbox keys seal the records on disk (after a rotation: whether the old key is still needed).

import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import { errorMessage } from "../../../errors.ts";
import { Logger } from "../../../log/logger.ts";
import { decryptMeshstackBytes } from "../../../secrets/meshstack-decrypt.ts";
import type { DoctorCheck } from "../check.ts";
import { secretFileProblem } from "../file-safety.ts";

export const meshstackCheck: DoctorCheck = {
  id: "meshstack",
  title: "meshStack",
  needs: ["config"],
  async run(ctx) {
    const config = ctx.state.config!;
    if (config.controllerKind !== "meshstack") return { status: "skip", summary: "controllerKind is edge" };
    const { meshstackSettings, meshstackKeys, meshstackClient, outboxKeyFile } = await import("../../../controller/meshstack/from-config.ts");
    // The outbox key seals run tokens at rest: the runner refuses to start with one others can read.
    const outboxKey = outboxKeyFile(config);
    const outboxProblem = await secretFileProblem(outboxKey, ctx.uid);
    if (outboxProblem !== undefined && !outboxProblem.problem.includes("(ENOENT)")) return { status: "fail", summary: `meshStack outbox key file: ${outboxProblem.problem}`, fix: outboxProblem.fix };
    let outboxNote: string;
    try {
      outboxNote = await outboxKeysNote(config.dataDir, outboxKey);
    } catch (error) {
      return { status: "fail", summary: `meshStack outbox keys: ${errorMessage(error)}`, fix: "see docs/meshstack.md, \"Rotating the outbox key\"" };
    }
    let settings;
    let keys: readonly KeyObject[];
    try {
      settings = meshstackSettings(config);
      keys = (await meshstackKeys(config, new Logger({ level: "error", sink: () => {} })))();
    } catch (error) {
      return { status: "fail", summary: errorMessage(error), fix: "see docs/meshstack.md" };
    }
    if (keys.length === 0) return { status: "fail", summary: "the runner has no private key for meshStack's encrypted inputs", fix: `edge-runner keygen, then register "edge-runner keys cert" in meshStack; or --runner-key-file with the registered key` };
    const client = meshstackClient(config, settings);
    const notes: string[] = [outboxNote];
    try {
      if (settings.auth.kind === "apiKey") {
        await client.login();
        notes.push(`logged in as API key client "${settings.auth.clientId}"`);
      }
    } catch (error) {
      return { status: "fail", summary: errorMessage(error), fix: `check "meshstackClientId" and the client secret in "${config.apiKeyFile ?? "apiKeyFile"}"` };
    }
    let runner;
    try {
      runner = await client.getRunner(settings.runnerUuid);
    } catch (error) {
      return { status: "fail", summary: errorMessage(error), fix: "check the credentials' permissions on building block runners" };
    }
    if (runner === undefined) return { status: "fail", summary: `meshStack has no building block runner "${settings.runnerUuid}"`, fix: "copy the runner's UUID from Platform Builder › Building Block Runners into --runner-id" };
    notes.push(`runner "${settings.runnerUuid}" is registered`);
    const registered = (runner.spec as { publicKey?: unknown } | undefined)?.publicKey;
    let publicKey: KeyObject | undefined;
    try {
      if (typeof registered === "string" && registered.includes("BEGIN CERTIFICATE")) publicKey = new X509Certificate(registered).publicKey;
      else if (typeof registered === "string" && registered.includes("BEGIN PUBLIC KEY")) publicKey = createPublicKey(registered);
    } catch (error) {
      return { status: "fail", summary: `the public key registered in meshStack cannot be read: ${errorMessage(error)}`, fix: `register "edge-runner keys cert" in meshStack` };
    }
    if (publicKey === undefined) return { status: "warn", summary: `${notes.join("; ")}; meshStack shows no public key for the runner`, fix: `register "edge-runner keys cert" in meshStack` };
    const probe = randomBytes(24);
    const sealed = encryptLikeMeshstack(publicKey, probe);
    const match = keys.findIndex((key) => {
      try {
        return decryptMeshstackBytes(key, sealed, "doctor probe").equals(probe);
      } catch {
        return false;
      }
    });
    if (match === -1) {
      return {
        status: "fail",
        summary: `${notes.join("; ")}; but none of the runner's ${keys.length} key(s) decrypts a test value encrypted to the public key registered in meshStack: every run with sensitive inputs would fail`,
        fix: `register "edge-runner keys cert" in meshStack, or start the runner with the registered key (--runner-key-file)`,
      };
    }
    return { status: "pass", summary: `${notes.join("; ")}; key ${match + 1} of ${keys.length} decrypts a test value encrypted to its registered public key` };
  },
};

/** Which outbox keys there are and how many records on disk each one sealed: a retained key that seals none can be retired. */
async function outboxKeysNote(dataDir: string, file: string): Promise<string> {
  const { AtRestKeyRing } = await import("../../../secrets/at-rest-ring.ts");
  const { RunOutboxStore } = await import("../../../controller/meshstack/outbox.ts");
  const ring = AtRestKeyRing.load(file, "meshStack outbox", { create: false });
  if (ring === undefined) return "no outbox key yet (the runner makes it at its first start)";
  const usage = await new RunOutboxStore(dataDir, ring).keyUsage();
  const records = (n: number): string => `${n} record${n === 1 ? "" : "s"}`;
  const keys = ring.keys.map((key) => {
    const n = usage.byKey[key.id] ?? 0;
    if (key.current) return `"${key.id}" current (${records(n)})`;
    return n > 0 ? `"${key.id}" retained, still sealing ${records(n)} (the runner reseals them under the current key)` : `"${key.id}" retained, sealing none ("edge-runner keys retire --outbox ${key.id}" removes it)`;
  });
  const unknown = usage.unknown > 0 ? `; ${records(usage.unknown)} no outbox key opens` : "";
  return `outbox key${ring.keys.length === 1 ? "" : "s"} ${keys.join(", ")}${unknown}`;
}

/** meshStack's scheme (RSA-OAEP-SHA1 key wrap, u32 IV length, IV, AES-128-GCM + tag), to test the keys. */
function encryptLikeMeshstack(publicKey: KeyObject, plain: Buffer): string {
  const aesKey = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-128-gcm", aesKey, iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  const ivLength = Buffer.alloc(4);
  ivLength.writeUInt32BE(iv.length);
  const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, aesKey);
  return Buffer.concat([wrapped, ivLength, iv, body]).toString("base64");
}
