// Admin routes for the controller's secret store: set, list names, delete. Values go in and are
// never returned: only a runner holding a job's lease can resolve one (edge-secrets.ts).

import { Hono } from "hono";
import { asObject, errorFromException, errorResponse, invalid, onlyFields, readJson } from "./http-helpers.ts";
import type { ControllerSecrets } from "./secret-store.ts";
import { hasLoneSurrogate } from "../util/well-formed.ts";

export function createAdminSecretsApp(store: ControllerSecrets): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    try {
      // At most MAX_SECRETS names; `truncated` says the store holds more (see SecretNames).
      const { names, truncated } = await store.names();
      return c.json({ secrets: names, truncated });
    } catch (error) {
      return errorFromException(c, error);
    }
  });
  app.put("/:name", async function setSecret(c) {
    try {
      const body = asObject(await readJson(c, "store a secret", 256 * 1024), "store a secret");
      onlyFields(body, ["value"], "store a secret");
      if (typeof body.value !== "string") throw invalid(`Cannot store a secret: "value" must be a string`);
      // Sealed as UTF-8, a lone surrogate would become U+FFFD: runners would get another value.
      if (hasLoneSurrogate(body.value)) throw invalid(`Cannot store a secret: "value" must be well-formed Unicode (it holds a lone UTF-16 surrogate)`);
      await store.set(c.req.param("name"), body.value);
      return c.body(null, 204);
    } catch (error) {
      return errorFromException(c, error);
    }
  });
  app.delete("/:name", async (c) => {
    try {
      return (await store.delete(c.req.param("name"))) ? c.body(null, 204) : errorResponse(c, 404, "not_found", `No secret "${c.req.param("name")}"`);
    } catch (error) {
      return errorFromException(c, error);
    }
  });
  return app;
}
