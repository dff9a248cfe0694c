// npm run bench -- --only watch: `camctl watch <host> -o ndjson` over the admin socket during a
// login storm — real logins (STARTTLS, SASL2 PLAIN, Bind2) at a fixed rate, half of them failing,
// from 127.0.0.2 and 127.0.0.3 — with a pinging client on the same Prosody.
//
// The storm runs twice, first with nobody watching (what the storm alone costs the server), then
// with camctl watching. Figures: logins made and failed vs the `login` / `login-failed` events camctl wrote (none may be
// lost while the reader keeps up: camctl's stdout is a file), `dropped` notices, the pinger's
// round trips during the storm (p50, p99, max, unanswered), camctl's RSS sampled every second
// from /proc (first 10 s of the storm vs the last 10 s, and the peak), the storm's achieved rate.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { clock, median } from "./measure.mjs";
import { startPinger } from "./ping.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const CAMCTL = path.join(root, "bin/camctl");

/** VmRSS of `pid` in KiB, or NaN once it is gone. */
function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) `pid` has used so far, or NaN once it is gone. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/**
 * Seconds `pid` (its main thread: Prosody's one, the pinger's event loop) has spent runnable but
 * waiting for a CPU (the run queue, /proc/<pid>/schedstat's second field, in ns), or NaN. On a
 * shared machine this is what a ping's round trip mostly is: the server ready, the CPU elsewhere.
 */
function runQueueSeconds(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
  } catch {
    return NaN;
  }
}

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export async function runWatchBench({ work, quick, log, rate = 50, seconds = quick ? 20 : 60 }) {
  const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);
  const { rawSasl2Login } = await import(`${root}build/test/helpers/sasl2-raw.js`);
  const sb = await startSandbox();
  try {
    // Each storm on accounts of its own: every successful login adds a client to its account's
    // store, and a store grown by the first storm would slow the second one's logins.
    const accountSet = async (prefix) => {
      const list = [];
      for (let i = 0; i < 100; i++) list.push(await sb.createAccount(`${prefix}${i}`));
      return list;
    };
    const sets = { alone: await accountSet("calm"), watched: await accountSet("storm") };
    /** Fires 1,000 failed-login events inside Prosody through the real hooks; its time there, in ms. */
    const fireBatch = async () =>
      Number(await sb.lua(`local events = prosody.hosts["${sb.host}"].events
        local now = require "prosody.util.time".now; local t = now()
        for i = 1, 1000 do events.fire_event("authentication-failure", { session = { ip = "127.0.0.2", sasl_handler = { username = "burst" .. i, selected = "PLAIN" } }, condition = "not-authorized" }) end
        return string.format("%.3f", (now() - t) * 1000)`));
    let unwatchedMs = 0;
    const cpu0 = cpuSeconds(sb.pid);
    for (let i = 0; i < 20; i++) unwatchedMs += await fireBatch();
    const unwatchedCpu = cpuSeconds(sb.pid) - cpu0;
    // The floor of a password login that no operator avoids: PBKDF2 at mod_auth_internal_hashed's
    // default 10,000 iterations (SCRAM's salted password, which PLAIN checks too), inside Prosody.
    const pbkdf2Ms = Number(await sb.lua(`local now = require "prosody.util.time".now
      local pbkdf2 = require "prosody.util.hashes".pbkdf2_hmac_sha1; local t = now()
      for i = 1, 20 do pbkdf2("bench-password", "0123456789abcdef", 10000) end
      return string.format("%.3f", (now() - t) * 1000 / 20)`));
    const pinger = await startPinger(sb);
    /** `rate` logins a second for `seconds`, on a fixed schedule; half fail. */
    const storm = async (label, accounts) => {
      log(`  storm ${label}: ${rate} logins/s for ${seconds} s`);
      const made = { ok: 0, failed: 0, errors: 0 };
      const inFlight = new Set();
      const total = rate * seconds;
      const start = clock();
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - clock();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const acct = accounts[i % accounts.length];
        const good = i % 2 === 0;
        const p = rawSasl2Login(sb, {
          jid: acct.jid,
          userAgentId: randomUUID(),
          software: "Storm",
          credential: { password: good ? acct.password : "wrong" },
          localAddress: i % 4 < 2 ? "127.0.0.2" : "127.0.0.3",
        }).then(
          (r) => (r.ok === good ? (good ? made.ok++ : made.failed++) : made.errors++),
          () => made.errors++,
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await Promise.all(inFlight);
      return { made, start, end: clock() };
    };
    // The same storm with nobody watching first: what the storm alone does to the server.
    const prosodyBefore = cpuSeconds(sb.pid);
    const waitBefore = { prosody: runQueueSeconds(sb.pid), pinger: runQueueSeconds(pinger.pid) };
    const alone = await storm("without a watcher", sets.alone);
    const prosodyAlone = cpuSeconds(sb.pid) - prosodyBefore;
    const waitAlone = { prosody: runQueueSeconds(sb.pid) - waitBefore.prosody, pinger: runQueueSeconds(pinger.pid) - waitBefore.pinger };
    const pingAlone = pinger.window(alone.start, alone.end);
    const outFile = path.join(work, "watch.ndjson");
    const out = fs.openSync(outFile, "w");
    const child = spawn(process.execPath, [CAMCTL, "watch", sb.host, "--socket", sb.socketPath, "-o", "ndjson"], {
      stdio: ["ignore", out, "pipe"],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CAMCTL_CONFIG: "/nonexistent" },
    });
    fs.closeSync(out);
    let stderr = "";
    await new Promise((resolve, reject) => {
      child.stderr.setEncoding("utf8").on("data", (d) => {
        stderr += d;
        if (/watching /.test(stderr)) resolve();
      });
      child.once("exit", (code) => reject(new Error(`camctl watch ended (${code}) before watching: ${stderr.trim()}`)));
    });
    const rss = [];
    const sampler = setInterval(() => rss.push({ at: clock(), kib: rssKiB(child.pid) }), 1000);
    rss.push({ at: clock(), kib: rssKiB(child.pid) });

    const prosodyStart = cpuSeconds(sb.pid);
    const camctlStart = cpuSeconds(child.pid);
    const waitStart = { prosody: runQueueSeconds(sb.pid), pinger: runQueueSeconds(pinger.pid) };
    const { made, start, end } = await storm("with the watcher", sets.watched);
    const prosodyWatched = cpuSeconds(sb.pid) - prosodyStart;
    const waitWatched = { prosody: runQueueSeconds(sb.pid) - waitStart.prosody, pinger: runQueueSeconds(pinger.pid) - waitStart.pinger };
    const camctlCpu = cpuSeconds(child.pid) - camctlStart;
    const ping = pinger.window(start, end);

    // Let the last events arrive: until the counts match, or 10 s without a new line.
    const count = () => {
      const c = { login: 0, "login-failed": 0, dropped: 0, droppedEvents: 0, lines: 0 };
      for (const line of fs.readFileSync(outFile, "utf8").split("\n")) {
        if (!line) continue;
        c.lines++;
        const e = JSON.parse(line);
        if (e.event === "login" && e.software === "Storm") c.login++;
        else if (e.event === "login-failed") c["login-failed"]++;
        else if (e.event === "dropped") {
          c.dropped++;
          c.droppedEvents += e.dropped;
        }
      }
      return c;
    };
    let c = count();
    for (let idle = 0, last = c.lines; idle < 20 && (c.login < made.ok || c["login-failed"] < made.failed); ) {
      await new Promise((r) => setTimeout(r, 500));
      c = count();
      idle = c.lines === last ? idle + 1 : 0;
      last = c.lines;
    }
    clearInterval(sampler);

    // Then many more events than a storm makes, fired inside Prosody in batches of 1,000 (failed
    // logins, through the real hooks): camctl's RSS after 10,000, 30,000, 60,000 and 120,000.
    const burst = {};
    const before = c.lines;
    let watchedMs = 0;
    const cpu1 = cpuSeconds(sb.pid);
    for (let batch = 1; batch <= 120; batch++) {
      watchedMs += await fireBatch();
      await new Promise((r) => setTimeout(r, 100));
      if ([10, 30, 60, 120].includes(batch)) burst[batch * 1000] = rssKiB(child.pid) / 1024;
    }
    for (let idle = 0; idle < 20 && count().lines < before + 120_000; idle++) await new Promise((r) => setTimeout(r, 500));
    const burstSeen = count().lines - before;
    const watchedCpu = cpuSeconds(sb.pid) - cpu1;
    // ms per 1,000 events = µs per event.
    const perEvent = { unwatchedUs: unwatchedMs / 20, watchedUs: watchedMs / 120, unwatchedCpuUs: (unwatchedCpu / 20_000) * 1e6, watchedCpuUs: (watchedCpu / 120_000) * 1e6 };
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("exit", (code) => r(code)));
    await pinger.stop();

    const during = rss.filter((s) => s.at >= start && s.at <= end && Number.isFinite(s.kib));
    const first = mean(during.slice(0, 10).map((s) => s.kib)) / 1024;
    const last = mean(during.slice(-10).map((s) => s.kib)) / 1024;
    const peak = Math.max(...rss.filter((s) => Number.isFinite(s.kib)).map((s) => s.kib)) / 1024;
    const achieved = (made.ok + made.failed + made.errors) / ((end - start) / 1000);
    const result = {
      rate,
      seconds,
      achievedRate: achieved,
      made,
      seen: { login: c.login, loginFailed: c["login-failed"], lines: c.lines },
      dropped: c.droppedEvents,
      lost: made.ok - c.login + (made.failed - c["login-failed"]),
      ping,
      pingWithoutWatcher: pingAlone,
      cpuSeconds: { prosodyAlone, prosodyWatched, camctl: camctlCpu },
      runQueueSeconds: { alone: waitAlone, watched: waitWatched },
      stormSeconds: { alone: (alone.end - alone.start) / 1000, watched: (end - start) / 1000 },
      prosodyCpuPerLoginMs: { alone: (prosodyAlone * 1000) / Math.max(1, alone.made.ok + alone.made.failed + alone.made.errors), watched: (prosodyWatched * 1000) / Math.max(1, made.ok + made.failed + made.errors) },
      pbkdf2Ms,
      burst: { written: burstSeen, rssMiB: burst },
      perEvent,
      rssMiB: { first10s: first, last10s: last, peak, samples: during.length },
      exitCode: code,
      medianRssMiB: median(during.map((s) => s.kib / 1024)),
    };
    console.log(`  logins: ${made.ok} made, ${c.login} seen; failed logins: ${made.failed} made, ${c["login-failed"]} seen; ${made.errors} unexpected outcomes; ${c.lines} events in all`);
    console.log(`  storm rate: ${achieved.toFixed(1)} logins/s (asked ${rate}/s for ${seconds} s); dropped: ${c.droppedEvents}; camctl exit ${code} on Ctrl-C`);
    console.log(`  server ping, the same storm without a watcher: p50 ${pingAlone.p50.toFixed(1)} ms, p99 ${pingAlone.p99.toFixed(1)} ms, max ${pingAlone.max.toFixed(1)} ms, ${pingAlone.count} pings, ${pingAlone.lost} unanswered`);
    console.log(`  server ping during the storm: p50 ${ping.p50.toFixed(1)} ms, p99 ${ping.p99.toFixed(1)} ms, max ${ping.max.toFixed(1)} ms, ${ping.count} pings, ${ping.lost} unanswered`);
    const waited = (w, secs) => `Prosody ${w.prosody.toFixed(1)} s, the pinger ${w.pinger.toFixed(1)} s of ${secs.toFixed(1)} s`;
    console.log(`  runnable but waiting for a CPU (run queue, /proc/<pid>/schedstat): without a watcher ${waited(waitAlone, result.stormSeconds.alone)}; with it ${waited(waitWatched, result.stormSeconds.watched)}`);
    console.log(`  Prosody CPU per login attempt: ${result.prosodyCpuPerLoginMs.alone.toFixed(1)} ms without a watcher, ${result.prosodyCpuPerLoginMs.watched.toFixed(1)} ms with it; of which PBKDF2 (10,000 iterations, measured inside Prosody) ${pbkdf2Ms.toFixed(1)} ms`);
    console.log(`  CPU during the storm: Prosody ${prosodyAlone.toFixed(1)} s without a watcher, ${prosodyWatched.toFixed(1)} s with it; camctl ${camctlCpu.toFixed(1)} s`);
    console.log(`  per event, 1,000 fired at a time: in the firing loop ${perEvent.unwatchedUs.toFixed(1)} µs without a watcher, ${perEvent.watchedUs.toFixed(1)} µs with one; Prosody CPU in all (sending included) ${perEvent.unwatchedCpuUs.toFixed(0)} µs without, ${perEvent.watchedCpuUs.toFixed(0)} µs with`);
    console.log(`  burst of 120,000 events: ${burstSeen} written; camctl RSS ${Object.entries(burst).map(([n, m]) => `${Number(n).toLocaleString("en")}: ${m.toFixed(1)} MiB`).join(", ")}`);
    console.log(`  camctl RSS: first 10 s ${first.toFixed(1)} MiB, last 10 s ${last.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB (${during.length} samples)`);
    result.targets = [
      { what: "watch: no event lost while the reader keeps up", value: `${result.lost} lost, ${c.droppedEvents} dropped`, met: result.lost === 0 && c.droppedEvents === 0 },
      { what: "watch: server ping p99 during a login storm ≤ 50 ms", value: `${ping.p99.toFixed(1)} ms (storm alone ${pingAlone.p99.toFixed(1)} ms; Prosody waited for a CPU ${((waitWatched.prosody / result.stormSeconds.watched) * 100).toFixed(0)} % of the storm)`, met: ping.p99 <= 50 && ping.lost === 0 },
      { what: "watch: camctl RSS flat over 120,000 events (at 120,000 ≤ at 30,000 + 5 MiB)", value: `${burst[30000]?.toFixed(1)} → ${burst[120000]?.toFixed(1)} MiB (storm: ${first.toFixed(1)} → ${last.toFixed(1)})`, met: burst[120000] <= burst[30000] + 5 && burstSeen === 120_000 },
      { what: "watch: Ctrl-C ends with 0", value: String(code), met: code === 0 },
    ];
    return result;
  } finally {
    await sb.stop();
  }
}
