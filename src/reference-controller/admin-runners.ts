// The admin API for runners: register (API key shown once), rotate a key, list, deregister.

import { Hono } from "hono";
import { asObject, errorFromException, invalid, onlyFields, optionalId, readJson } from "./http-helpers.ts";
import type { RegisterRunnerInput, RunnerRegistry } from "./runner-registry.ts";

const MAX_PUBLIC_KEY_CHARS = 16 * 1024;

export function createAdminRunnersApp(runners: RunnerRegistry): Hono {
  const app = new Hono();

  app.onError((error, c) => errorFromException(c, error));

  app.post("/", async function registerRunner(c) {
    const action = "register a runner";
    const body = asObject(await readJson(c, action, 64 * 1024), action);
    onlyFields(body, ["id", "group", "publicKey"], action);
    const id = optionalId(body, "id", action);
    if (id === undefined) throw invalid(`Cannot ${action}: "id" is required`);
    const input: RegisterRunnerInput = { id, rotate: c.req.query("rotate") === "true" };
    const group = optionalId(body, "group", action);
    if (group !== undefined) input.group = group;
    if (body.publicKey !== undefined) {
      if (typeof body.publicKey !== "string" || body.publicKey.trim() === "" || body.publicKey.length > MAX_PUBLIC_KEY_CHARS) {
        throw invalid(`Cannot ${action}: "publicKey" must be a non-empty string of at most ${MAX_PUBLIC_KEY_CHARS} characters`);
      }
      input.publicKey = body.publicKey;
    }
    const { rotated, ...created } = await runners.registerLanded(input);
    return c.json(created, rotated ? 200 : 201);
  });

  app.get("/", async function listRunners(c) {
    return c.json({ runners: await runners.listEverywhere() });
  });

  app.delete("/:id", function deregisterRunner(c) {
    const id = c.req.param("id");
    runners.deregister(id);
    return c.json({ id, deleted: true });
  });

  return app;
}
