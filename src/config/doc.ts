// docs/configuration.md, generated from the option table so the docs cannot drift from the code.

import { optionsMarkdown } from "./help.ts";

export function configurationDoc(): string {
  return `# Configuration

<!-- Generated from src/config/options.ts by \`bun scripts/gen-config-doc.ts\`; do not edit by hand. -->

Every option can be set in three places; a later one wins:

1. a JSON config file (\`--config-file\` / \`EDGE_RUNNER_CONFIG_FILE\`) whose keys are the option names,
2. an environment variable \`EDGE_RUNNER_*\`,
3. a command-line flag.

Durations take a unit (\`500ms\`, \`30s\`, \`5m\`, \`1h\`, \`1m30s\`) or plain milliseconds. Booleans take
\`true/false/1/0/yes/no\`; a boolean flag alone means true and \`--no-<flag>\` false.

A bad value stops the command before any network call, with exit code **78** (EX_CONFIG) and a
message that names the field, where it came from, and what is accepted:

\`\`\`
edge-runner run: configuration error: Invalid value "0" for "concurrency" from --concurrency: expected an integer from 1 to 1024
\`\`\`

Secrets (\`apiKey\`, \`adminToken\`) are never echoed in errors or logs. Prefer the \`…File\` options:
the file must not be readable by group or others (\`chmod 600\`), or the runner refuses it.

A forward proxy is not an option: the runner reads the usual variables, \`HTTPS_PROXY\`,
\`HTTP_PROXY\` and \`NO_PROXY\` (lower case wins), and every outbound call takes it on each
runtime, Node included: the controller, Vault, S3, GCP Secret Manager, meshStack, the
integrations, the \`http\` plugin and plugins' \`ctx.fetch\`. A bad value is a config error
(78) naming the variable; a proxy password is never shown. See
[operations.md](operations.md#behind-a-proxy). Under systemd, \`install.sh --proxy\` writes them
(\`--proxy-file\` for a proxy with a password: [install.md](install.md#behind-a-proxy)).

${optionsMarkdown()}
`;
}
