// Secrets never reach a log line. The redaction itself lives in src/secrets/redaction/: this
// module keeps the names the rest of the runner imports (the process scope, the class).

export { MASK, processRedaction as redactor, RedactionScope, RedactionScope as Redactor } from "../secrets/redaction/redaction-scope.ts";
