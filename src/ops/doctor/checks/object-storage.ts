// Doctor check: with storageBackend s3, the bucket answers with the runner's credentials and a
// probe object can be written, read, listed and deleted under the runner's own prefix (the
// permissions of docs/storage.md). The S3 SDK is loaded only when the backend is s3.

import { randomBytes } from "node:crypto";
import { errorMessage } from "../../../errors.ts";
import { collect } from "../../../storage/object-store.ts";
import { openObjectStore } from "../../../storage/open-store.ts";
import { runnerPrefix } from "../../../storage/storage-keys.ts";
import type { DoctorCheck } from "../check.ts";

export const objectStorageCheck: DoctorCheck = {
  id: "object-storage",
  title: "job storage",
  needs: ["config"],
  async run(ctx) {
    const config = ctx.state.config!;
    if (config.storageBackend !== "s3") return { status: "skip", summary: `local directory "${config.dataDir}/storage" (storageBackend local)` };
    let store;
    try {
      store = await openObjectStore(config);
    } catch (error) {
      return { status: "fail", summary: errorMessage(error), fix: "fix the s3* options (docs/storage.md)" };
    }
    // Under the runner's prefix, outside any attempt, so the sweeper never mistakes it for one.
    const key = `${runnerPrefix(config.runnerId ?? "doctor")}.doctor/probe-${randomBytes(4).toString("hex")}`;
    let step = "write";
    const work = async (): Promise<void> => {
      await store.put(key, new TextEncoder().encode("edge-runner doctor"), { contentType: "text/plain" });
      step = "read";
      const found = await store.get(key);
      if (found === undefined || new TextDecoder().decode(await collect(found.body)) !== "edge-runner doctor") throw new Error("the probe object read back differs from what was written");
      step = "list";
      let listed = false;
      for await (const info of store.list(key)) listed ||= info.key === key;
      if (!listed) throw new Error("the probe object is missing from the listing");
      step = "delete";
      await store.delete(key);
    };
    try {
      await withTimeout(work(), ctx.timeoutMs);
      return { status: "pass", summary: `${store.location} accepts a write, read, list and delete under "${runnerPrefix(config.runnerId ?? "doctor")}"` };
    } catch (error) {
      await store.delete(key).catch(() => undefined);
      return {
        status: "fail",
        summary: `Cannot ${step} a probe object in ${store.location}: ${errorMessage(error)}`,
        fix: "check s3Endpoint, s3Region, the credentials and their policy (docs/storage.md, \"The smallest IAM policy\")",
      };
    } finally {
      await store.close();
    }
  },
};

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
