// The files of a new plugin project (`edge-runner plugin init NAME`), apart from the SDK itself
// (src/cli/plugin-sdk-files.ts). Each is small and meant to be read: the README is the author's
// ten-minute path from here to a signed job on a runner (docs/plugin-quickstart.md says the same).

export const SDK_DIR = "sdk";

export function projectFiles(name: string, version: string): Record<string, string> {
  return {
    "README.md": readme(name, version),
    "src/index.ts": `// The plugin: a name, a version, and its actions. \`edge-runner plugin build src/index.ts\` bundles it.
import { definePlugin } from "../sdk/edge-runner-plugin.js";

interface GreetInput {
  name?: string;
}

export default definePlugin({
  name: "${name}",
  version: "${version}",
  actions: {
    /** Greets someone: logs a line, reports a step, sets an output, and returns the greeting. */
    async greet(input, ctx) {
      const who = (input as GreetInput | undefined)?.name ?? "world";
      ctx.step({ id: "greet", name: "Greet", status: "running" });
      ctx.log.info(\`Greeting \${who}\`);
      ctx.outputs.set("greeted", who);
      ctx.step({ id: "greet", name: "Greet", status: "succeeded" });
      return { greeting: \`Hello, \${who}!\` };
    },
  },
});
`,
    "test/index.test.ts": `// Unit tests run by \`edge-runner plugin test\` (Bun's test runner, built into the executable).
import { expect, test } from "bun:test";
import { createTestContext } from "../sdk/edge-runner-plugin.js";
import plugin from "../src/index.ts";

test("greet greets by name, logs, and reports its step and output", async () => {
  const ctx = createTestContext();
  const result = await plugin.actions.greet!({ name: "Ada" }, ctx);
  expect(result).toEqual({ greeting: "Hello, Ada!" });
  expect(ctx.lines).toEqual([{ level: "info", msg: "Greeting Ada" }]);
  expect(ctx.steps.at(-1)).toMatchObject({ id: "greet", status: "succeeded" });
  expect(ctx.outputs.all()).toEqual({ greeted: "Ada" });
});
`,
    "tsconfig.json": `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "lib": ["ES2023", "DOM"],
    "types": [],
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "allowImportingTsExtensions": true,
    "noEmit": true,
    "skipLibCheck": true
  },
  "include": ["src", "test", "sdk"]
}
`,
    [`${SDK_DIR}/bun-test.d.ts`]: `// The part of Bun's test API the tests use, so the project type-checks without installing
// anything. Delete this file if you add @types/bun to the project.
declare module "bun:test" {
  interface Matchers<R = void> {
    toBe(expected: unknown): R;
    toEqual(expected: unknown): R;
    toMatchObject(expected: object): R;
    toContain(expected: unknown): R;
    toBeDefined(): R;
    toBeUndefined(): R;
    toBeGreaterThan(expected: number): R;
    toThrow(expected?: string | RegExp | Error): R;
    readonly not: Matchers<R>;
    readonly rejects: Matchers<Promise<void>>;
    readonly resolves: Matchers<Promise<void>>;
  }
  export function expect(actual: unknown): Matchers;
  export function test(name: string, fn: () => void | Promise<void>, timeoutMs?: number): void;
  export function describe(name: string, fn: () => void): void;
  export function beforeAll(fn: () => void | Promise<void>): void;
  export function afterAll(fn: () => void | Promise<void>): void;
}
`,
    ".gitignore": `# Private keys never go into git: signing keys (edge-runner keygen --signing) and runner keys.
*.key.jwk
*.key.pem
runner-key.pem
*.api-key
admin-token
# Build output: rebuilt by edge-runner plugin build.
dist/
`,
  };
}

function readme(name: string, version: string): string {
  const ref = `${name}@${version}`;
  return `# ${name}

An edge-runner plugin. Everything below needs only the \`edge-runner\` executable.

\`\`\`sh
edge-runner plugin test                                   # the tests in test/
edge-runner plugin build src/index.ts                     # dist/${name}-${version}.mjs and its manifest
edge-runner plugin run dist/${name}-${version}.mjs --action greet --input name=Ada
\`\`\`

## From here to a signed job on a runner

1. A signing key (the private files stay here, ignored by git; never put them on a runner):

   \`\`\`sh
   edge-runner keygen --signing --out-dir keys --kid dev
   edge-runner plugin sign dist/${name}-${version}.manifest.json --key keys/signing-dev.key.jwk
   \`\`\`

2. A controller and a runner to try it on (another terminal; state in \`../edge\`):

   \`\`\`sh
   edge-runner dev --data-dir ../edge
   \`\`\`

3. Make the runner trust your key: its public half goes into the runner's trusted keys directory,
   \`<dataDir>/trusted-keys/\` (or the \`--trusted-keys\` option). The runner reads it before each
   download, so no restart is needed.

   \`\`\`sh
   mkdir -p -m 755 ../edge/trusted-keys && cp keys/signing-dev.pub.jwk ../edge/trusted-keys/
   \`\`\`

4. Publish the bundle to the controller (the admin token is found under \`--data-dir\`, as for
   \`edge-runner job\`) and run a job that names it:

   \`\`\`sh
   edge-runner plugin publish dist/${name}-${version}.mjs --data-dir ../edge
   edge-runner job submit ${ref} --action greet --input '{"name":"Ada"}' --wait --data-dir ../edge
   \`\`\`

A new version is a new \`version\` in \`src/index.ts\`: build, sign and publish it, and jobs name
\`${name}@<version>\`. The SDK in \`sdk/\` comes from the executable: \`edge-runner plugin init --sdk-only\`
refreshes it after an upgrade.
`;
}
