// The ConfigError a resolveConfig() call throws, for tests of what the option table refuses.

import { expect } from "bun:test";
import { ConfigError, resolveConfig, type ResolveOptions } from "../../src/config/resolve.ts";

export function configFails(options: ResolveOptions): ConfigError {
  try {
    resolveConfig(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}
