// The S3 endpoint of the undated-orphan sweep tests: runner r's prefix holds one attempt,
// undated/1/, whose one object is listed without a LastModified until a sweep deletes it.

import { prefixes, scriptedS3, undatedContents, type ScriptedS3 } from "../helpers/scripted-s3.ts";

/** Common prefixes per listed prefix: runs/r/ → undated/ → 1/. */
const CHILDREN: Record<string, string[]> = { "runs/r/": ["runs/r/undated/"], "runs/r/undated/": ["runs/r/undated/1/"] };

/** That endpoint; a listing of a prefix for which `failing(prefix)` says so answers 503 SlowDown. */
export function undatedOrphanS3(failing: (prefix: string) => boolean = () => false): ScriptedS3 {
  const s3 = scriptedS3({
    list: ({ prefix, delimited }) => {
      if (failing(prefix)) return new Response("<Error><Code>SlowDown</Code><Message>Reduce your request rate</Message></Error>", { status: 503 });
      if (delimited) return prefixes(...(CHILDREN[prefix] ?? []));
      return prefix === "runs/r/undated/1/" && s3.deleted.length === 0 ? undatedContents("runs/r/undated/1/k") : "";
    },
  });
  return s3;
}
