// The start-up benchmark: whole-process timings of `camctl user clients` against a sandbox
// Prosody, side by side with the floor (`node -e 0`), the anchor (`prosodyctl shell user clients`)
// and, for the XMPP path, a minimal @xmpp/client script. Rounds are interleaved so drift hits
// every command alike. Prints medians, min/max, ratios and peak RSS (via GNU time when available).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { median } from "./measure.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;
const camctlBin = join(root, "bin/camctl");
const log = (s) => process.stderr.write(s + "\n");

// CPU time of a whole process (user + system, as the kernel accounts the reaped child, to the
// microsecond) through Python's os.wait4: Node cannot read a child's rusage, and GNU time rounds
// to 10 ms, too coarse for processes of ~70 ms.
const RUSAGE_PY = `import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write("%.6f %d\\n" % (ru.ru_utime + ru.ru_stime, ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))`;
const PYTHON = spawnSync("python3", ["-c", "import os; os.wait4; os.waitstatus_to_exitcode"], { stdio: "ignore" }).status === 0 ? "python3" : null;

/** What a process read from dist/ (bench/loaded.cjs): JavaScript and code-cache bytes and files. */
function loadedFrom(file) {
  const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" ")).map(([b, name]) => ({ bytes: Number(b), name }));
  const js = lines.filter((l) => l.name.endsWith(".cjs"));
  const caches = lines.filter((l) => l.name.endsWith(".cache"));
  const sum = (xs) => xs.reduce((a, l) => a + l.bytes, 0);
  return { jsBytes: sum(js), jsFiles: js.length, cacheBytes: sum(caches) };
}

/** Every .cjs piece of dist/ and its bytes: what a command could load at most. */
function distJs() {
  const dir = join(root, "dist");
  const files = readdirSync(dir).filter((f) => f.endsWith(".cjs"));
  return { bytes: files.reduce((a, f) => a + statSync(join(dir, f)).size, 0), files: files.length };
}

/**
 * Runs `cmd` once through a proxy in front of the admin socket `socketPath` and writes what it
 * sent to `file`: the request bench/bare-socket-client.cjs replays.
 */
async function recordRequest(cmd, socketPath, file) {
  const proxyPath = join(dirname(file), "proxy.sock");
  const sent = [];
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    client.on("data", (d) => {
      sent.push(d);
      upstream.write(d);
    });
    upstream.on("data", (d) => client.write(d));
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise((resolve) => server.listen(proxyPath, resolve));
  const argv = cmd.map((a) => (a === socketPath ? proxyPath : a));
  const code = await new Promise((resolve) => spawn(argv[0], argv.slice(1), { stdio: "ignore" }).on("exit", resolve));
  server.close();
  if (code !== 0) throw new Error(`bench: ${cmd.join(" ")} through the recording proxy exited ${code}`);
  writeFileSync(file, Buffer.concat(sent));
}

/** The single executable built into `dir` (linux-x64 only), or null with the reason logged. */
function buildSingleExecutable(dir) {
  const file = join(dir, "camctl-sea");
  const r = spawnSync(process.execPath, [join(root, "scripts/build-sea.mjs"), file], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status === 0) return file;
  log(`bench: no single executable (${r.stderr.trim().split("\n").pop()}); its start-up is not timed.`);
  return null;
}

/** Runs the start-up benchmark; prints its tables on stdout and returns its rows and targets. */
export async function runStartupBench({ rounds = 15, pairs = 40 } = {}) {
  const work = mkdtempSync(join(tmpdir(), "camctl-bench-"));
  const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);
  const { addBulkGrants } = await import(`${root}build/test/helpers/bulk-grants.js`);

  /** Runs one command once; returns wall ms and peak RSS KiB (null without GNU time). */
  function runOnce(cmd, env) {
    const rssFile = join(work, "rss");
    const argv = GNU_TIME ? [GNU_TIME, "-f", "%M", "-o", rssFile, ...cmd] : cmd;
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`bench: ${cmd.join(" ")} exited ${r.status}: ${r.stderr}`);
    const rss = GNU_TIME ? Number(readFileSync(rssFile, "utf8").trim().split("\n").pop()) : null;
    return { ms, rss, stdout: r.stdout.toString() };
  }

  /** Runs one command once (in `env`) and returns its CPU milliseconds (user + system) and peak RSS KiB. */
  function cpuOnce(cmd, env) {
    const out = join(work, "rusage");
    const r = spawnSync(PYTHON, ["-c", RUSAGE_PY, out, ...cmd], { env, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`bench: ${cmd.join(" ")} exited ${r.status}: ${r.stderr}`);
    const [cpu, rss] = readFileSync(out, "utf8").trim().split(" ").map(Number);
    return { cpuMs: cpu * 1000, rssKiB: rss };
  }

  /** A and B in turn (A B A B …), `pairs` times after a warm-up of each: the median of the A/B ratios of CPU. */
  function pairedCpu(a, b, env = process.env) {
    cpuOnce(a, env);
    cpuOnce(b, env);
    const ratios = [];
    const as = [];
    const bs = [];
    for (let i = 0; i < pairs; i++) {
      const x = cpuOnce(a, env).cpuMs;
      const y = cpuOnce(b, env).cpuMs;
      as.push(x);
      bs.push(y);
      ratios.push(x / y);
    }
    return { ratio: median(ratios), a: median(as), b: median(bs) };
  }

  log(`Starting the sandbox Prosody…`);
  const sb = await startSandbox({ extraModules: [] });
  try {
    // Accounts with 1, 100 and 1,000 clients: OAuth-style grants made in bulk on the server.
    const sizes = [1, 100, 1000];
    const accounts = {};
    for (const n of sizes) {
      const { jid } = await sb.createAccount(`n${n}`);
      await addBulkGrants(sb, jid, n);
      accounts[n] = jid;
    }
    const sock = ["--socket", sb.socketPath];
    const check = runOnce([process.execPath, camctlBin, "user", "clients", accounts[1000], "--json", ...sock]);
    const listed = JSON.parse(check.stdout).clients.length;
    if (listed !== 1000) throw new Error(`bench: expected 1000 clients, camctl listed ${listed}`);

    const cases = [
      { name: "node -e 0 (floor)", cmd: [process.execPath, "-e", "0"] },
      { name: "prosodyctl shell user clients (anchor)", cmd: ["prosodyctl", "--config", sb.configPath, "shell", "user", "clients", accounts[1]] },
      { name: "camctl --version", cmd: [process.execPath, camctlBin, "--version"] },
      { name: "camctl user clients, socket, table, 1 client", cmd: [process.execPath, camctlBin, "user", "clients", accounts[1], ...sock] },
      { name: "camctl user clients, socket, json, 1 client", cmd: [process.execPath, camctlBin, "user", "clients", accounts[1], "--json", ...sock] },
      { name: "camctl user clients, socket, table, 100 clients", cmd: [process.execPath, camctlBin, "user", "clients", accounts[100], ...sock] },
      { name: "camctl user clients, socket, json, 100 clients", cmd: [process.execPath, camctlBin, "user", "clients", accounts[100], "--json", ...sock] },
      { name: "camctl user clients, socket, table, 1000 clients", cmd: [process.execPath, camctlBin, "user", "clients", accounts[1000], ...sock] },
      { name: "camctl user clients, socket, json, 1000 clients", cmd: [process.execPath, camctlBin, "user", "clients", accounts[1000], "--json", ...sock] },
      { name: "prosodyctl shell user clients, 1000 clients", cmd: ["prosodyctl", "--config", sb.configPath, "shell", "user", "clients", accounts[1000]] },
    ];
    const xmpp = await import("./xmpp-cases.mjs").then((m) => m.xmppCases(sb, work, camctlBin)).catch((e) => {
      log(`(XMPP cases skipped: ${e.message})`);
      return [];
    });
    cases.push(...xmpp);

    for (const c of cases) {
      c.ms = [];
      c.rss = [];
      runOnce(c.cmd, c.env); // warm-up: page cache, server-side JIT-less warm state
    }
    log(`Timing ${cases.length} commands × ${rounds} rounds (interleaved)…`);
    for (let i = 0; i < rounds; i++) {
      for (const c of cases) {
        const r = runOnce(c.cmd, c.env);
        c.ms.push(r.ms);
        if (r.rss !== null) c.rss.push(r.rss);
      }
    }

    const byName = Object.fromEntries(cases.map((c) => [c.name, c]));
    // Ratios are taken round by round (each round ran every command once, one after the other)
    // and then their median: a machine that speeds up or slows down mid-run moves both sides alike.
    const pairRatio = (a, b) => median(byName[a].ms.map((ms, i) => ms / byName[b].ms[i]));
    const rows = cases.map((c) => ({
      name: c.name,
      median: median(c.ms),
      min: Math.min(...c.ms),
      max: Math.max(...c.ms),
      ratio: pairRatio(c.name, "node -e 0 (floor)"),
      rssMiB: c.rss.length ? Math.max(...c.rss) / 1024 : null,
    }));
    const pad = (s, n) => String(s).padEnd(n);
    const num = (x, d = 1) => (x === null ? "-" : x.toFixed(d));
    console.log(`${rounds} rounds\n`);
    console.log(`${pad("command", 52)} ${pad("median ms", 10)} ${pad("min", 7)} ${pad("max", 7)} ${pad("× floor", 8)} peak RSS MiB`);
    console.log(`(× floor: median of the per-round ratios to node -e 0)`);
    for (const r of rows) console.log(`${pad(r.name, 52)} ${pad(num(r.median), 10)} ${pad(num(r.min), 7)} ${pad(num(r.max), 7)} ${pad(num(r.ratio, 2), 8)} ${num(r.rssMiB)}`);

    const med = (n) => median(byName[n].ms);
    const floorName = "node -e 0 (floor)";
    const targets = [
      ["socket listing (table) ≤ 1.4 × node -e 0", pairRatio("camctl user clients, socket, table, 1 client", floorName), 1.4],
      ["socket listing (json) ≤ 1.4 × node -e 0", pairRatio("camctl user clients, socket, json, 1 client", floorName), 1.4],
      ["1,000 clients ≤ 1.5 × 1 client (table)", pairRatio("camctl user clients, socket, table, 1000 clients", "camctl user clients, socket, table, 1 client"), 1.5],
      ["1,000 clients ≤ 1.5 × 1 client (json)", pairRatio("camctl user clients, socket, json, 1000 clients", "camctl user clients, socket, json, 1 client"), 1.5],
    ];
    const peak = Math.max(...rows.filter((r) => r.name.startsWith("camctl") && r.rssMiB !== null).map((r) => r.rssMiB));
    if (Number.isFinite(peak)) targets.push(["camctl peak RSS ≤ 60 MiB", peak / 60, 1]);
    if (byName["camctl user clients, xmpp, json, 1 client"] && byName["minimal @xmpp/client script (floor for XMPP)"]) {
      targets.push(["XMPP listing ≤ 1.2 × minimal script", pairRatio("camctl user clients, xmpp, json, 1 client", "minimal @xmpp/client script (floor for XMPP)"), 1.2]);
      targets.push(["XMPP listing ≤ 1.2 × minimal script pinned to PLAIN (stricter floor)", pairRatio("camctl user clients, xmpp, json, 1 client", "minimal @xmpp/client script, PLAIN"), 1.2]);
    }
    // How much of a listing is the module's own work on the server (the same for any client):
    // get_active_clients timed inside Prosody, median of 15 calls per size.
    console.log("\nserver side: mod_client_management get_active_clients, timed inside Prosody");
    const serverMs = {};
    for (const n of sizes) {
      const user = accounts[n].split("@")[0];
      const times = [];
      for (let i = 0; i < 15; i++) {
        times.push(Number(await sb.lua(`local now = require "prosody.util.time".now
  local t = now() prosody.hosts["${sb.host}"].modules.client_management.get_active_clients("${user}")
  return tostring((now() - t) * 1000)`)));
      }
      serverMs[n] = median(times);
      console.log(`  ${String(n).padStart(5)} clients: ${serverMs[n].toFixed(1)} ms`);
    }
    const own = (name, n) => med(name) - serverMs[n];
    console.log(`camctl's own share (median minus server time): 1 client ${own("camctl user clients, socket, table, 1 client", 1).toFixed(1)} ms, ` +
      `1000 clients ${own("camctl user clients, socket, table, 1000 clients", 1000).toFixed(1)} ms (table); ` +
      `${own("camctl user clients, socket, json, 1 client", 1).toFixed(1)} / ${own("camctl user clients, socket, json, 1000 clients", 1000).toFixed(1)} ms (json)`);
    targets.push(["1,000 clients ≤ 1.5 × 1 client, server's get_active_clients time excluded (json)",
      own("camctl user clients, socket, json, 1000 clients", 1000) / own("camctl user clients, socket, json, 1 client", 1), 1.5]);

    // Start-up in CPU time, each target in its own paired run against the floor (issue 17).
    let cpuFloor = null;
    const floorCmd = [process.execPath, "-e", "0"];
    const listCmd = [process.execPath, camctlBin, "user", "clients", accounts[1], ...sock];
    // The same request without camctl (bench/bare-socket-client.cjs), from the bytes camctl sent.
    const requestFile = join(work, "request.bin");
    await recordRequest(listCmd, sb.socketPath, requestFile);
    const bareCmd = [process.execPath, join(root, "bench/bare-socket-client.cjs"), sb.socketPath, requestFile];
    const versionCmd = [process.execPath, camctlBin, "--version"];
    if (PYTHON) {
      // The single executable (scripts/build-sea.mjs, docs/single-executable.md): the same two,
      // started from its V8 snapshot instead of bin/camctl's loader and code caches.
      const sea = buildSingleExecutable(work);
      // NODE_EXTRA_CA_CERTS makes every Node process read and parse those certificates as it starts
      // (node -e 0 too: 40 ms of 64 on the machine BENCHMARKS.md was measured on, which sets it to
      // the whole system bundle). That cost is the same for every command and narrows every ratio,
      // so when it is set the figures are taken twice: as this environment is, and without it.
      const { NODE_EXTRA_CA_CERTS: extraCa, ...withoutCa } = process.env;
      const environments = extraCa === undefined
        ? [["as this environment is", process.env]]
        : [["with this environment's NODE_EXTRA_CA_CERTS", process.env], ["without NODE_EXTRA_CA_CERTS", withoutCa]];
      for (const [label, env] of environments) {
        log(`Timing CPU ${label}: ${pairs} pairs each (A B A B …)…`);
        const bare = pairedCpu(bareCmd, floorCmd, env);
        const list = pairedCpu(listCmd, floorCmd, env);
        const seaList = sea && pairedCpu([sea, ...listCmd.slice(2)], floorCmd, env);
        const cpuTargets = [
          ["user clients <jid> over the socket ≤ 1.15 × node -e 0", list, 1.15],
          ["--version ≤ 1.05 × node -e 0", pairedCpu(versionCmd, floorCmd, env), 1.05],
        ];
        if (sea) {
          cpuTargets.push(
            ["single executable: user clients <jid> over the socket ≤ 1.15 × node -e 0", seaList, 1.15],
            ["single executable: --version ≤ 1.05 × node -e 0", pairedCpu([sea, "--version"], floorCmd, env), 1.05],
          );
        }
        console.log(`\nstart-up, CPU ${label} (user + system of the whole process, as the kernel accounts it), median of ${pairs} paired runs (A B A B …)`);
        for (const [what, r, limit] of cpuTargets) {
          console.log(`  ${r.ratio <= limit ? "met " : "MISS"}  ${what}: ${r.ratio.toFixed(2)} (medians ${r.a.toFixed(1)} ms and ${r.b.toFixed(1)} ms)`);
          targets.push([`CPU ${label}: ${what}`, r.ratio, limit]);
        }
        console.log(`  the same request without camctl (bench/bare-socket-client.cjs: connect, send camctl's bytes, read the result): ${bare.ratio.toFixed(2)} × node -e 0 (medians ${bare.a.toFixed(1)} ms and ${bare.b.toFixed(1)} ms)`);
        // What camctl costs beyond the request itself, in milliseconds: unlike the ratios, the
        // same whatever every Node process pays at start.
        const beyond = (r) => `${(r.a - r.b - (bare.a - bare.b)).toFixed(1)} ms`;
        console.log(`  camctl's own CPU beyond the bare request's (each pair's medians, floor subtracted): node bin/camctl ${beyond(list)}` +
          (seaList ? `, the single executable ${beyond(seaList)}` : ""));
        cpuFloor ??= {};
        cpuFloor[label] = bare.ratio;
      }
    } else {
      console.log("\nstart-up, CPU: skipped (needs python3 for os.wait4)");
    }
    // What the listing loads: the files of dist/ it reads (bench/loaded.cjs records them).
    const loadedFile = join(work, "loaded");
    runOnce([process.execPath, "--require", join(root, "bench/loaded.cjs"), ...listCmd.slice(1)], { CAMCTL_BENCH_LOADED_FILE: loadedFile });
    const loaded = loadedFrom(loadedFile);
    const all = distJs();
    console.log(`\nJavaScript loaded by user clients <jid> over the socket: ${(loaded.jsBytes / 1000).toFixed(0)} KB in ${loaded.jsFiles} ` +
      `${loaded.jsFiles === 1 ? "file" : "files"} (and ${(loaded.cacheBytes / 1000).toFixed(0)} KB of V8 code cache), of ${(all.bytes / 1000).toFixed(0)} KB in ${all.files} files in dist/`);

    console.log("\ntargets");
    for (const [what, ratio, limit] of targets) console.log(`  ${ratio <= limit ? "met " : "MISS"}  ${what}: ${ratio.toFixed(2)}${what.includes("RSS") ? ` (${peak.toFixed(1)} MiB)` : ""}`);
    return { rounds, pairs, rows, serverMs, loaded, bareRequestCpuRatios: cpuFloor, targets: targets.map(([what, ratio, limit]) => ({ what, ratio, limit, met: ratio <= limit })) };
  } finally {
    await sb.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
