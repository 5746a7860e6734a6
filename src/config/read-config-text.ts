// Reading a config-like file (the config file, a CA bundle, meshstackPlugins) with one cap: a
// huge file put there by mistake or by a full disk stops the start with config_invalid naming
// the field, instead of being read whole into memory.

import { readTextFileBoundedSync } from "../util/read-file-bounded.ts";

/** A config file or a CA bundle is kilobytes; 1 MiB leaves room for a long chain of certificates. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** The file as UTF-8 text; throws (FileTooLargeError, or the file system's error) for callers to name their field. */
export function readConfigText(path: string): string {
  return readTextFileBoundedSync(path, MAX_CONFIG_FILE_BYTES);
}
