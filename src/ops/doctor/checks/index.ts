// The doctor's checks, in the order they run. Adding a check is one file and one line here.

import type { DoctorCheck } from "../check.ts";
import { authenticationCheck } from "./authentication.ts";
import { configCheck } from "./config.ts";
import { controllerReachableCheck } from "./controller-reachable.ts";
import { dataDirCheck } from "./data-dir.ts";
import { keyFilesCheck } from "./key-files.ts";
import { meshstackCheck } from "./meshstack.ts";
import { objectStorageCheck } from "./object-storage.ts";
import { signingKeysCheck } from "./signing-keys.ts";
import { tlsCheck } from "./tls.ts";

export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  configCheck,
  dataDirCheck,
  objectStorageCheck,
  keyFilesCheck,
  signingKeysCheck,
  controllerReachableCheck,
  tlsCheck,
  authenticationCheck,
  meshstackCheck,
];
