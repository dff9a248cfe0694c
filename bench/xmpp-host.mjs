// The host-wide listing over XMPP (issue 21 item 4): `camctl host clients <host> -o ndjson
// --jid admin` through the companion module against the same listing over the admin socket, on
// one sandbox of N accounts (bench/populate.mjs, internal storage), in the same run. Both
// outputs must hold exactly the same records. Beside the wall times, the CPU each side spent
// (Prosody's from /proc/<pid>/stat before and after; camctl's own at exit through
// bench/vmhwm.cjs): when the wall time is about the sum of the two, the two sides take turns.
// The XMPP listing runs twice: one page at a time (the companion's
// client_management_admin_page_ahead = false, set at run time: camctl then pages as it did before
// asking ahead, and as it does with an older companion), and with pages asked ahead (the default).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { camctl } from "./host.mjs";
import { populateHost } from "./populate.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const s2 = (ms) => (ms / 1000).toFixed(2);

/** Prosody's CPU time so far, ms (utime + stime of /proc/<pid>/stat). */
function prosodyCpuMs(pidFile) {
  const pid = fs.readFileSync(pidFile, "utf8").trim();
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks: 100 Hz on Linux
}

/** Prosody's time runnable but waiting for a CPU so far, ms (/proc/<pid>/schedstat's second field, ns). */
function prosodyRunQueueMs(pidFile) {
  const pid = fs.readFileSync(pidFile, "utf8").trim();
  return Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
}

/** Sorted "account id" lines of an NDJSON listing, without `skip` (the XMPP login's own account). */
function recordsOf(file, skip) {
  const out = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line);
    if (r.account !== skip) out.push(`${r.account} ${r.id}`);
  }
  return out.sort();
}

export async function runXmppHostBench({ work, quick, log, size = quick ? 1000 : 10_000 }) {
  const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);
  const sb = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"] });
  const result = { accounts: size };
  try {
    const populated = await populateHost(sb, { count: size, seed: size, log });
    result.rows = populated.expectedRows;
    const boss = await sb.createAccount("boss");
    const home = fs.mkdtempSync(path.join(work, "home-"));
    const pw = path.join(home, "pw");
    fs.writeFileSync(pw, boss.password + "\n", { mode: 0o600 });
    const env = { HOME: home, XDG_STATE_HOME: path.join(home, "state"), XDG_CONFIG_HOME: path.join(home, "config") };
    const pidFile = path.join(path.dirname(sb.configPath), "prosody.pid");
    const run = async (what, args, outFile) => {
      const cpuFile = path.join(work, "cpu");
      const before = prosodyCpuMs(pidFile);
      const queuedBefore = prosodyRunQueueMs(pidFile);
      const r = await camctl(["host", "clients", sb.host, "-o", "ndjson", ...args], { work, env: { ...env, CAMCTL_BENCH_CPU_FILE: cpuFile }, outFile });
      const prosodyMs = prosodyCpuMs(pidFile) - before;
      const prosodyQueuedMs = prosodyRunQueueMs(pidFile) - queuedBefore;
      const [user, system] = fs.readFileSync(cpuFile, "utf8").split(" ").map(Number);
      return { what, ms: r.ms, firstRowMs: r.firstLineMs, rssKiB: r.rssKiB, rows: r.lines, prosodyMs, prosodyQueuedMs, camctlMs: (user + system) / 1000 };
    };
    const socketOut = path.join(work, "xh-socket.ndjson");
    const seqOut = path.join(work, "xh-xmpp-seq.ndjson");
    const xmppOut = path.join(work, "xh-xmpp.ndjson");
    const pageAhead = (on) => sb.lua(`require "prosody.core.configmanager".set(${JSON.stringify(sb.host)}, "client_management_admin_page_ahead", ${on}) return true`);
    const xmppArgs = ["--jid", boss.jid, "--password-file", pw, "--server", `127.0.0.1:${sb.c2sPort}`, "--ca-file", sb.caFile];
    // One XMPP run first so that camctl's own login is a client of boss in both listings below.
    await camctl(["user", "clients", boss.jid, "-o", "ndjson", ...xmppArgs], { work, env, outFile: path.join(work, "xh-warm") });
    result.socket = await run("admin socket", ["--socket", sb.socketPath], socketOut);
    await pageAhead(false);
    result.sequential = await run("XMPP (companion), one page at a time", xmppArgs, seqOut);
    await pageAhead(true);
    result.xmpp = await run("XMPP (companion), pages asked ahead", xmppArgs, xmppOut);
    const a = recordsOf(socketOut, boss.jid);
    const b = recordsOf(xmppOut, boss.jid);
    const c = recordsOf(seqOut, boss.jid);
    result.same = a.length === result.rows && JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(a) === JSON.stringify(c);
  } finally {
    await sb.stop();
  }
  console.log(`\n${size.toLocaleString("en")} accounts, ${result.rows.toLocaleString("en")} listed clients (internal storage, companion loaded)`);
  for (const r of [result.socket, result.sequential, result.xmpp]) {
    console.log(`  camctl host clients -o ndjson, ${r.what}: ${s2(r.ms)} s, first row ${f1(r.firstRowMs)} ms, ${r.rows.toLocaleString("en")} rows, peak RSS ${f1(r.rssKiB / 1024)} MiB; CPU: Prosody ${s2(r.prosodyMs)} s, camctl ${s2(r.camctlMs)} s (sum ${s2(r.prosodyMs + r.camctlMs)} s); Prosody waiting for a CPU ${s2(r.prosodyQueuedMs)} s, idle ${s2(r.ms - r.prosodyMs - r.prosodyQueuedMs)} s`);
  }
  console.log(`  the same records all three ways: ${result.same ? "yes" : "NO"}`);
  const ratio = result.xmpp.ms / result.socket.ms;
  const tag = `host clients over XMPP, ${size.toLocaleString("en")} accounts`;
  result.targets = [
    { what: `${tag}: the same records as over the socket`, value: result.same ? "yes" : "no", met: result.same },
    { what: `${tag}: ≤ 1.5 × the socket path`, value: `${s2(result.xmpp.ms)} s = ${ratio.toFixed(2)} × ${s2(result.socket.ms)} s`, met: ratio <= 1.5,
      note: `Prosody CPU ${s2(result.xmpp.prosodyMs)} s + camctl CPU ${s2(result.xmpp.camctlMs)} s` },
    { what: `${tag}: pages asked ahead ≥ 2 × faster than one page at a time`, value: `${(result.sequential.ms / result.xmpp.ms).toFixed(2)} × (${s2(result.sequential.ms)} s → ${s2(result.xmpp.ms)} s)`,
      met: result.sequential.ms >= 2 * result.xmpp.ms },
  ];
  return result;
}
