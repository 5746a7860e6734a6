// Writes docs/configuration.md from the option table (src/config/options.ts).
// Run: bun scripts/gen-config-doc.ts   (a test fails when the doc is out of date)

import { writeFileSync } from "node:fs";
import { configurationDoc } from "../src/config/doc.ts";

writeFileSync(new URL("../docs/configuration.md", import.meta.url), configurationDoc());
console.log("wrote docs/configuration.md");
