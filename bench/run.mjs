// npm run bench: camctl's benchmarks against sandbox Prosodys, figures side by side in one run.
//
//   start-up  `camctl user clients` vs node -e 0 / prosodyctl / a minimal XMPP script (startup.mjs)
//   host      `camctl host clients -o ndjson` on 1,000, 10,000 and 100,000 accounts (100,000: internal
//             and SQLite), each host with an account of 40,000 grants and one of 1,000 grants with a
//             200 KB name; internal / SQLite / PostgreSQL storage, vs the module's own loop, prosodyctl
//             and a `camctl user clients` loop, with a pinging client (host.mjs)
//   revoke    `camctl host revoke` of ~10,000 items on 2,000 accounts (revoke.mjs)
//   fleet     `host clients` over --ssh vs the local socket; a fan-out over 5 sandboxes (fleet.mjs)
//   watch     `camctl watch -o ndjson` during a login storm (50 logins/s for 60 s), with a pinging
//             client: events lost, server ping, camctl RSS (watch.mjs)
//   history   `camctl host history -o ndjson` over 100,000 audit entries, socket and XMPP (history.mjs)
//   xmpp-host `camctl host clients -o ndjson` over XMPP (companion) against the socket, 10,000 accounts (xmpp-host.mjs)
//
// Options: --quick (1,000 accounts only, fewer start-up rounds, smaller revoke/fleet hosts),
// --only startup,host,revoke,fleet,watch,history, --watch-rate N, --watch-seconds N, --storage internal,sqlite,postgresql, --sizes 1000,10000,100000, --no-extremes, --runs N (host runs per case),
// --rounds N (start-up rounds), --pairs N (start-up CPU pairs, default 40), --json (also writes
// bench/last-run.json).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const quick = args.includes("--quick");
const sections = opt("--only", "startup,host,revoke,fleet,watch,history,xmpp-host").split(",");
const storages = opt("--storage", "internal,sqlite,postgresql").split(",");
// Default sizes: 1,000, 10,000 and, on internal storage and SQLite, 100,000 accounts (issue 21 item 2).
const sizesFor = (storage) =>
  opt("--sizes", quick ? "1000" : storage === "postgresql" ? "1000,10000" : "1000,10000,100000").split(",").map(Number);
const extremes = !args.includes("--no-extremes");
const rounds = Number(opt("--rounds", quick ? "5" : "10"));
const pairs = Number(opt("--pairs", quick ? "20" : "40"));
const log = (s) => process.stderr.write(s + "\n");
const t0 = Date.now();

// Like the tests: Prosody 13, prosody-modules and the SQLite driver, installed when root.
try {
  execFileSync("bash", [path.join(root, "test/sandbox/install-prosody.sh")], { stdio: ["ignore", "inherit", "inherit"] });
} catch {
  log("bench: Prosody 13 is needed (see above).");
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-bench-"));
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
const plugins = process.env.CAMCTL_PROSODY_PLUGIN_PATHS ? `mod_client_management from ${process.env.CAMCTL_PROSODY_PLUGIN_PATHS}` : "the project's stand-in mod_client_management";
const prosodyVersion = (() => {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Version}", "prosody"], { encoding: "utf8" });
  } catch {
    return "?";
  }
})();
console.log(`camctl bench — ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`);
console.log(`${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Prosody ${prosodyVersion}, ${plugins}`);
console.log(`load average at start: ${loadavg()}`);

const report = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, prosody: prosodyVersion, plugins }, loadStart: os.loadavg() };
const targets = [];
const skipped = [];
let pg = null;
try {
  if (sections.includes("startup")) {
    log("\n== start-up");
    console.log("\n== start-up: one account, whole processes, interleaved rounds");
    const { runStartupBench } = await import("./startup.mjs");
    try {
      report.startup = await runStartupBench({ rounds, pairs });
      for (const t of report.startup.targets) targets.push({ what: `start-up: ${t.what}`, value: t.ratio.toFixed(2), met: t.met });
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      targets.push({ what: "start-up benchmark", value: "failed", met: false, note: e.message.split("\n")[0] });
    }
  }

  if (sections.includes("host")) {
    console.log("\n== host clients: every account's clients over the admin socket");
    const host = await import("./host.mjs");
    report.host = [];
    for (const storage of storages) {
      let sandboxOptions;
      if (storage === "internal") sandboxOptions = { storage: "internal" };
      else if (storage === "sqlite") {
        const { sqliteStorageAvailable } = await import(`${root}build/test/sandbox/sandbox.js`);
        if (!sqliteStorageAvailable()) {
          skipped.push(`SQLite storage: LuaDBI's SQLite3 driver (lua-dbi-sqlite3) is not installed`);
          console.log(`\nsqlite: skipped (lua-dbi-sqlite3 is not installed)`);
          continue;
        }
        sandboxOptions = { storage: "sqlite" };
      } else if (storage === "postgresql") {
        const { startPostgres } = await import("./postgres.mjs");
        pg ??= await startPostgres();
        if (pg.skipped) {
          skipped.push(`PostgreSQL storage: ${pg.skipped}`);
          console.log(`\npostgresql: skipped (${pg.skipped})`);
          continue;
        }
      } else throw new Error(`bench: unknown storage ${storage}`);
      for (const size of sizesFor(storage)) {
        log(`\n== host clients: ${storage}, ${size} accounts (load ${loadavg()})`);
        const o = storage === "postgresql" ? { sql: pg.database(`bench_${size}_${Date.now() % 100000}`) } : sandboxOptions;
        try {
          const r = await host.benchHost({ label: storage, size, sandboxOptions: o, work, runs: Number(opt("--runs", size <= 1000 ? "3" : "1")), extremes, log });
          r.load = os.loadavg();
          report.host.push(r);
          host.printHost(r);
        } catch (e) {
          // One storage or size failing must not cost the other figures.
          console.log(`\n${storage}, ${size} accounts: FAILED: ${e.message}`);
          targets.push({ what: `${storage}, ${size.toLocaleString("en")}: host clients benchmark`, value: "failed", met: false, note: e.message.split("\n")[0] });
        }
      }
    }
    targets.push(...host.hostTargets(report.host));
  }

  if (sections.includes("revoke")) {
    console.log("\n== host revoke: bulk revocation");
    const { runRevokeBench } = await import("./revoke.mjs");
    try {
      report.revoke = await runRevokeBench({ work, quick, log });
      targets.push(...(report.revoke.targets ?? []));
      if (report.revoke.skipped) skipped.push(`host revoke: ${report.revoke.skipped}`);
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      targets.push({ what: "host revoke benchmark", value: "failed", met: false, note: e.message.split("\n")[0] });
    }
  }

  if (sections.includes("fleet")) {
    console.log("\n== fleet: --ssh and fan-out");
    const { runFleetBench } = await import("./fleet.mjs");
    try {
      report.fleet = await runFleetBench({ work, quick, log });
      targets.push(...(report.fleet.targets ?? []));
      skipped.push(...(report.fleet.skipped ?? []));
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      targets.push({ what: "fleet benchmark", value: "failed", met: false, note: e.message.split("\n")[0] });
    }
  }

  if (sections.includes("watch")) {
    console.log("\n== watch: camctl watch during a login storm");
    const { runWatchBench } = await import("./watch.mjs");
    try {
      report.watch = await runWatchBench({ work, quick, log, rate: Number(opt("--watch-rate", "50")), seconds: Number(opt("--watch-seconds", quick ? "20" : "60")) });
      targets.push(...(report.watch.targets ?? []));
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      targets.push({ what: "watch benchmark", value: "failed", met: false, note: e.message.split("\n")[0] });
    }
  }
  if (sections.includes("history")) {
    console.log("\n== history: host history over mod_audit's archive");
    const { runHistoryBench } = await import("./history.mjs");
    try {
      report.history = await runHistoryBench({ work, quick, log });
      targets.push(...(report.history.targets ?? []));
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      targets.push({ what: "history benchmark", value: "failed", met: false, note: e.message.split("\n")[0] });
    }
  }
  if (sections.includes("xmpp-host")) {
    console.log("\n== xmpp-host: host clients over XMPP against the socket");
    const { runXmppHostBench } = await import("./xmpp-host.mjs");
    try {
      report.xmppHost = await runXmppHostBench({ work, quick, log });
      targets.push(...(report.xmppHost.targets ?? []));
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      targets.push({ what: "xmpp-host benchmark", value: "failed", met: false, note: e.message.split("\n")[0] });
    }
  }
} finally {
  await pg?.stop?.();
  fs.rmSync(work, { recursive: true, force: true });
}

console.log("\n== targets");
for (const t of targets) {
  const mark = t.met === null ? "skip" : t.met ? "met " : "MISS";
  console.log(`  ${mark}  ${t.what}: ${t.value}${t.note ? ` (${t.note})` : ""}`);
}
for (const s of skipped) console.log(`  skip  ${s}`);
report.loadEnd = os.loadavg();
report.minutes = (Date.now() - t0) / 60000;
console.log(`\nload average at the end: ${loadavg()}; ${report.minutes.toFixed(1)} minutes`);
if (args.includes("--json")) fs.writeFileSync(path.join(root, "bench/last-run.json"), JSON.stringify({ ...report, targets, skipped }, null, 2));
