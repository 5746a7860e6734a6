// What a plugin project imports at run time (`sdk/edge-runner-plugin.js`, written by
// `edge-runner plugin init`): definePlugin for the plugin, createTestContext for its tests.
// scripts/gen-author-sdk.ts bundles this entry and its declarations into src/cli/plugin-sdk-files.ts.

export { definePlugin, isPluginDefinition } from "./sdk.ts";
export type { Action, ActionContext, ActionOutputs, ActionSecrets, ActionStorage, LogLevel, PluginDefinition, StepStatus, StepUpdate } from "./sdk.ts";
export { createTestContext } from "./test-context.ts";
export type { TestContext, TestContextOptions } from "./test-context.ts";
