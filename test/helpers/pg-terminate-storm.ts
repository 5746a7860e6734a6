// Run as a child process by test/reference-controller/postgres-driver.test.ts: transactions on a
// pool of 4 while another connection terminates the pool's backends again and again, for
// STORM_MS. Prints {ok, failed, hung, uncaught, unhandled}: `uncaught` counts exceptions thrown where no
// caller could catch them (the driver bug the patch guards), `unhandled` rejected promises the
// driver left without a handler (logged by the controller, which goes on).

import postgres from "postgres";

const url = process.env.STORM_URL as string;
const password = process.env.STORM_PASSWORD as string;
const uncaught: string[] = [];
let unhandled = 0;
process.on("uncaughtException", (error) => void uncaught.push(String(error).slice(0, 200)));
process.on("unhandledRejection", () => void unhandled++);

const sql = postgres(url, { password, max: 4, onnotice: () => {}, connection: { application_name: "storm" } });
const killer = postgres(url, { password, max: 1, onnotice: () => {} });
const until = Date.now() + Number(process.env.STORM_MS ?? 2000);
let ok = 0;
let failed = 0;
// A transaction the driver never settles (its write dropped with the closed socket) is counted
// and left behind; the controller's store bounds its own transactions the same way (pg-store.ts).
let hung = 0;
const workers = Array.from({ length: 8 }, async () => {
  while (Date.now() < until) {
    const settled = sql.begin(async (tx) => {
      await tx`SELECT 1`;
      await tx`SELECT pg_notify('storm', 'x')`;
    }).then(() => "ok", () => "failed");
    const outcome = await Promise.race([settled, Bun.sleep(3000).then(() => "hung")]);
    if (outcome === "ok") ok++;
    else if (outcome === "failed") failed++;
    else hung++;
  }
});
const kills = (async () => {
  while (Date.now() < until) {
    await killer`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'storm'`.catch(() => {});
    await Bun.sleep(5);
  }
})();
await Promise.all([...workers, kills]);
await Bun.sleep(200);
console.log(JSON.stringify({ ok, failed, hung, uncaught, unhandled }));
await Promise.all([sql.end({ timeout: 2 }), killer.end({ timeout: 2 })]).catch(() => {});
process.exit(0);
