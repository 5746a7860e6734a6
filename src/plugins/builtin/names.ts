// The built-in plugins' names, apart from their loaders and input schemas (index.ts): the pool
// policy and plugin references only ask whether a name is built in, and a runner's start-up
// loads them, not the integrations' schemas (docs/performance.md, start-up).

export const BUILTIN_NAMES = ["echo", "http", "shell", "manual", "terraform", "github-workflow", "gitlab-pipeline", "azure-devops-pipeline"] as const;

export type BuiltinName = (typeof BUILTIN_NAMES)[number];

/** Names of the built-in plugins (they win over bundles of the same name). */
export const BUILTIN_PLUGINS: ReadonlySet<string> = new Set(BUILTIN_NAMES);
