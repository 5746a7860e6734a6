// Runner registration and key rotation on two PostgreSQL replicas: a registration of an id another
// replica registered meanwhile is a 409 (not a second, dead key), and a replica that has not heard
// of a rotation cannot undo it by writing the runner's last contact (runner-patch.ts).
import { afterEach, expect, test } from "bun:test";
import type { PgStore } from "../../src/reference-controller/postgres/pg-store.ts";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, openController, openReplica, type Harness } from "../reference-controller/helpers.ts";

const open: Harness[] = [];
const gates: Array<() => void> = [];
afterEach(async () => {
  for (const release of gates.splice(0)) release();
  for (const h of open.splice(0)) await h.controller.close();
});

/** Holds replica h's NOTIFY-driven runner reloads ("has not heard yet"). */
function holdRunnerNotifications(h: Harness): () => void {
  const store = h.controller.core.store as PgStore;
  const reload = store.reloadRunners.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  gates.push(release);
  store.reloadRunners = async (ids) => {
    await gate;
    return reload(ids);
  };
  return release;
}

forEachStore("runner registry across replicas", (store) => {
  test("registerRunner() of one id on A and on B at the same time: one key, which works; the other answer is a 409", async () => {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const results = await Promise.allSettled([
      a.controller.registerRunner({ id: "r1", group: "default" }),
      b.controller.registerRunner({ id: "r1", group: "default" }),
    ]);
    const refusals = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason?.code);
    expect(refusals.every((code) => code === "conflict")).toBe(true);
    const keys = results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<{ apiKey: string }>).value.apiKey);
    // Let both replicas converge on the stored row.
    await new Promise((r) => setTimeout(r, 500));
    const [row] = await store.sql()<Array<{ doc: { apiKeyHash: string } }>>`SELECT doc FROM runners WHERE id = 'r1'`;
    const { sha256Hex } = await import("../../src/reference-controller/tokens.ts");
    const working = keys.filter((k) => sha256Hex(k) === row?.doc.apiKeyHash);
    // Every key handed out (answered 201) must authenticate; otherwise the second must be a 409.
    expect({ answered: keys.length, working: working.length }).toEqual({ answered: working.length, working: working.length });
  }, 30_000);

  test("registerRunner({rotate}) on A is not undone by replica B's lastSeenAt write of the runner (B had not heard of the rotation): the new key works, the old one does not", async () => {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const oldKey = (await a.controller.registerRunner({ id: "r1", group: "default" })).apiKey;
    await new Promise((r) => setTimeout(r, 300));
    const r = FakeRunner.connect(b.controller, "r1", "default", oldKey);
    r.send({ type: "credit", slots: 1 });
    await b.settle();
    const release = holdRunnerNotifications(b);
    const rotated = await a.controller.registerRunner({ id: "r1", group: "default", rotate: true });
    // A minute later the runner's message on B persists its lastSeenAt (the runner doc as B holds it).
    b.clock.advance(61_000);
    r.send({ type: "credit", slots: 1 });
    await b.settle();
    release();
    await new Promise((r) => setTimeout(r, 500));
    const { sha256Hex } = await import("../../src/reference-controller/tokens.ts");
    const [row] = await store.sql()<Array<{ doc: { apiKeyHash: string } }>>`SELECT doc FROM runners WHERE id = 'r1'`;
    expect({
      storedIsNewKey: row?.doc.apiKeyHash === sha256Hex(rotated.apiKey),
      aAcceptsNew: a.controller.runners.authenticate("r1", rotated.apiKey) !== undefined,
      aAcceptsOld: a.controller.runners.authenticate("r1", oldKey) !== undefined,
    }).toEqual({ storedIsNewKey: true, aAcceptsNew: true, aAcceptsOld: false });
  }, 30_000);

  test("registerRunner({rotate}) on B before B heard of A's registration: the rotation lands (made again on the stored row), only its key works", async () => {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const release = holdRunnerNotifications(b);
    const first = await a.controller.registerRunner({ id: "r1", group: "eu" });
    const rotated = await b.controller.registerRunner({ id: "r1", rotate: true });
    release();
    const { sha256Hex } = await import("../../src/reference-controller/tokens.ts");
    const [row] = await store.sql()<Array<{ doc: { apiKeyHash: string; group: string } }>>`SELECT doc FROM runners WHERE id = 'r1'`;
    expect({ stored: row?.doc.apiKeyHash === sha256Hex(rotated.apiKey), group: row?.doc.group }).toEqual({ stored: true, group: "eu" });
    await eventually(() => (a.controller.runners.authenticate("r1", rotated.apiKey) !== undefined ? true : undefined), 5_000, "A takes the rotation");
    expect(a.controller.runners.authenticate("r1", first.apiKey)).toBeUndefined();
    expect(b.controller.runners.authenticate("r1", first.apiKey)).toBeUndefined();
  }, 30_000);
}, ["postgres"]);

forEachStore("runner registry in one process", (store) => {
  test("deregister() and registerRunner() of the same id in one turn: the new key works, the old one does not", async () => {
    const a = await openController(store);
    open.push(a);
    const old = await a.controller.registerRunner({ id: "r1", group: "default" });
    a.controller.runners.deregister("r1");
    const fresh = await a.controller.registerRunner({ id: "r1", group: "default" });
    expect(a.controller.runners.authenticate("r1", fresh.apiKey)).toBeDefined();
    expect(a.controller.runners.authenticate("r1", old.apiKey)).toBeUndefined();
    const b = await a.reopen();
    open.splice(open.indexOf(a), 1, b);
    expect(b.controller.runners.authenticate("r1", fresh.apiKey)).toBeDefined();
    expect(b.controller.runners.authenticate("r1", old.apiKey)).toBeUndefined();
  }, 30_000);
});
