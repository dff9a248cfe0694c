// The host-wide audit benchmark: `camctl host clients <host> -o ndjson` over the admin socket on
// hosts of N accounts (bench/populate.mjs), side by side in the same run with
// - the floor: mod_client_management's own get_active_clients over every account, timed inside
//   Prosody by one admin-socket Lua chunk (one blocking loop: the least work any scan can do);
// - one camctl start (`camctl --version`), the fixed cost the target allows on top of the floor;
// - the anchor: `prosodyctl shell user clients <jid>` per account, a sample timed and extrapolated;
// - a concurrent XMPP client pinging the server every 50 ms (bench/pinger.mjs): round trips while
//   idle, during the scan, and during the floor's blocking loop for contrast.
// The scan's output is checked row by row against what the population made.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { measure, median, clock } from "./measure.mjs";
import { populateHost, checkSample } from "./populate.mjs";
import { startPinger, stats } from "./ping.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const camctlBin = path.join(root, "bin/camctl");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Lua for the floor: every account's get_active_clients, timed inside Prosody; "accounts rows ms". */
export const floorLua = (luaString, host) => `local now = require "prosody.util.time".now
local um = require "prosody.core.usermanager"
local cm = prosody.hosts[${luaString(host)}].modules.client_management
local t = now()
local users = {}
for user in um.users(${luaString(host)}) do users[#users + 1] = user end
local rows = 0
for _, user in ipairs(users) do rows = rows + #cm.get_active_clients(user) end
return string.format("%d %d %.3f", #users, rows, (now() - t) * 1000)`;

/** Runs the floor once; returns { accounts, rows, ms, from, to } (from/to on measure.clock). */
export async function runFloor(sb, host = sb.host) {
  const { luaString, replRequest } = await import(`${root}build/test/sandbox/admin-socket.js`);
  const from = clock();
  const r = await replRequest(sb.socketPath, ">" + floorLua(luaString, host), 600_000);
  const to = clock();
  if (r.error) throw new Error(`bench: the floor failed: ${r.result}`);
  const [accounts, rows, ms] = r.result.replace(/^Result: /, "").split(" ").map(Number);
  return { accounts, rows, ms, from, to };
}

/** `camctl …` as a measured Node process (peak RSS through bench/vmhwm.cjs). */
export function camctl(args, o) {
  return measure([process.execPath, camctlBin, ...args], { ...o, node: true });
}

/** Whether this build has `camctl host clients` (hostscan's command); the reason if not. */
export async function hostClientsMissing(work) {
  const r = await camctl(["host", "clients", "--help"], { work, expectCode: null, outFile: path.join(work, "help.txt") });
  // Commander answers an unknown command's --help with the top-level help, so look at the text.
  return r.code === 0 && /Usage: camctl host clients/.test(fs.readFileSync(path.join(work, "help.txt"), "utf8")) ? null : "this build has no `camctl host clients` yet";
}

/** Per-account row counts of an NDJSON scan output; throws on a line that is not a record. */
function rowsByAccount(file) {
  const counts = new Map();
  const ids = new Map();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    const rec = JSON.parse(line);
    if (typeof rec.account !== "string" || typeof rec.id !== "string") throw new Error(`bench: not a host clients record: ${line.slice(0, 200)}`);
    const account = rec.account.split("@")[0];
    counts.set(account, (counts.get(account) ?? 0) + 1);
    if (!ids.has(account)) ids.set(account, []);
    ids.get(account).push(rec.id);
  }
  return { counts, ids };
}

/** Checks a scan's output against the population: every account, every listed id, nothing else. */
function checkScanOutput(file, populated) {
  const { counts, ids } = rowsByAccount(file);
  let rows = 0;
  for (const a of populated.accounts) {
    const want = [...a.clients.filter((c) => c.listed).map((c) => c.listed.id), ...a.grants.map((g) => g.listed.id)].sort();
    const got = (ids.get(a.localpart) ?? []).sort();
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      throw new Error(`bench: camctl host clients listed for ${a.jid}:\n  ${got.join("\n  ")}\nbut the population made:\n  ${want.join("\n  ")}`);
    }
    rows += got.length;
  }
  const extra = [...counts.keys()].filter((k) => !populated.accounts.some((a) => a.localpart === k));
  if (extra.length) throw new Error(`bench: camctl host clients listed accounts the population did not make: ${extra.slice(0, 5).join(", ")}`);
  return rows;
}

/**
 * One host: populate `size` accounts on a fresh sandbox with the given storage, then measure.
 * `sandboxOptions` picks the storage ({ storage: "sqlite" } or { sql: … }).
 */
export async function benchHost({ label, size, sandboxOptions, work, runs, anchorSample = 20, log }) {
  const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);
  const sb = await startSandbox(sandboxOptions);
  const result = { storage: label, accounts: size };
  let pinger;
  try {
    const populated = await populateHost(sb, { count: size, seed: size, log });
    await checkSample(sb, populated);
    Object.assign(result, { rows: populated.expectedRows, storedRecords: populated.records, populateSeconds: populated.seconds });
    pinger = await startPinger(sb);
    const sock = ["--socket", sb.socketPath];

    const starts = [];
    for (let i = 0; i < 5; i++) starts.push((await camctl(["--version"], { work })).ms);
    result.camctlStartMs = median(starts);

    const idle = [clock()];
    await sleep(3000);
    idle.push(clock());

    const missing = await hostClientsMissing(work);
    result.floor = [];
    result.scan = [];
    const scanWindows = [];
    const floorWindows = [];
    for (let i = 0; i < runs; i++) {
      const floor = await runFloor(sb);
      if (floor.rows !== populated.expectedRows || floor.accounts !== size) {
        throw new Error(`bench: the floor counted ${floor.accounts} accounts / ${floor.rows} rows, the population made ${size} / ${populated.expectedRows}`);
      }
      result.floor.push(floor.ms);
      floorWindows.push([floor.from, floor.to]);
      await sleep(500);
      if (missing) {
        result.scanSkipped = missing;
        continue;
      }
      const outFile = path.join(work, `scan-${label}-${size}.ndjson`);
      let r;
      try {
        r = await camctl(["host", "clients", sb.host, "-o", "ndjson", ...sock], { work, outFile });
      } catch (e) {
        result.scanSkipped = `camctl host clients failed: ${e.message.replace(/^bench: /, "")}`;
        continue;
      }
      result.scan.push({ ms: r.ms, firstRowMs: r.firstLineMs, rssKiB: r.rssKiB, rows: r.lines, bytes: r.bytes });
      scanWindows.push([r.startedAt, r.endedAt]);
      if (i === 0) result.scanRowsChecked = checkScanOutput(outFile, populated);
      fs.rmSync(outFile, { force: true });
      await sleep(500);
    }
    // Pings sent near the end of a window may still be in flight: wait for their answers.
    await sleep(1500);
    const inWindows = (windows) => pinger.samples.filter((p) => windows.some(([from, to]) => p.at >= from && p.at <= to));
    result.pingIdle = stats(inWindows([idle]));
    result.pingDuringFloor = stats(inWindows(floorWindows));
    result.pingDuringScan = result.scan.length ? stats(inWindows(scanWindows)) : null;

    // The anchor: prosodyctl's own command per account, a sample spread over the host.
    const times = [];
    for (let k = 0; k < anchorSample; k++) {
      const a = populated.accounts[Math.floor((k * populated.accounts.length) / anchorSample)];
      const r = await measure(["prosodyctl", "--config", sb.configPath, "shell", "user", "clients", a.jid], { work, outFile: path.join(work, "anchor.txt") });
      times.push(r.ms);
    }
    result.anchorSampleMs = times;
    result.anchorPerAccountMs = times.reduce((s, x) => s + x, 0) / times.length;
    result.anchorExtrapolatedMs = result.anchorPerAccountMs * size;
  } finally {
    await pinger?.stop();
    await sb.stop();
  }
  return result;
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const ms2s = (x) => (Number.isFinite(x) ? (x / 1000).toFixed(2) : "-");
const pingText = (p) => (p && p.count ? `${f1(p.p50)} / ${f1(p.p99)} / ${f1(p.max)}${p.lost ? ` (${p.lost} unanswered)` : ""} (${p.count} pings)` : "-");

/** Summary figures of one benchHost result (medians over the runs). */
export function summarize(r) {
  const floorMs = median(r.floor);
  const scanMs = r.scan.length ? median(r.scan.map((s) => s.ms)) : NaN;
  return {
    floorMs,
    scanMs,
    firstRowMs: r.scan.length ? median(r.scan.map((s) => s.firstRowMs)) : NaN,
    rssMiB: r.scan.length ? Math.max(...r.scan.map((s) => s.rssKiB / 1024)) : NaN,
    allowedMs: 1.5 * floorMs + r.camctlStartMs,
    speedup: r.anchorExtrapolatedMs / scanMs,
  };
}

export function printHost(r) {
  const s = summarize(r);
  const runs = r.floor.length;
  console.log(`\n${r.storage}, ${r.accounts.toLocaleString("en")} accounts, ${r.rows.toLocaleString("en")} listed clients (${r.storedRecords.toLocaleString("en")} stored records; populated in ${r.populateSeconds.toFixed(1)} s)`);
  console.log(`  floor: get_active_clients over every account, inside Prosody  ${ms2s(s.floorMs)} s${runs > 1 ? ` (median of ${runs})` : ""}`);
  if (r.scan.length) {
    console.log(`  camctl host clients -o ndjson (socket)                      ${ms2s(s.scanMs)} s${runs > 1 ? ` (median of ${r.scan.length})` : ""}  = ${f2(s.scanMs / s.floorMs)} × floor; first row ${f1(s.firstRowMs)} ms; peak RSS ${f1(s.rssMiB)} MiB; ${r.scan[0].rows.toLocaleString("en")} rows, checked`);
  } else {
    console.log(`  camctl host clients -o ndjson: skipped (${r.scanSkipped})`);
  }
  console.log(`  one camctl start (camctl --version, median of 5)               ${ms2s(r.camctlStartMs)} s`);
  console.log(`  prosodyctl shell user clients, per account (${r.anchorSampleMs.length} sampled)       ${ms2s(r.anchorPerAccountMs)} s → ${(r.anchorExtrapolatedMs / 1000).toFixed(0)} s for all ${r.accounts.toLocaleString("en")} (extrapolated)` +
    `; camctl ${(r.anchorExtrapolatedMs / s.scanMs).toFixed(0)} × faster, the floor ${(r.anchorExtrapolatedMs / s.floorMs).toFixed(0)} ×`);
  console.log(`  ping round trip, ms p50 / p99 / max: idle ${pingText(r.pingIdle)}`);
  if (r.pingDuringScan) console.log(`                                     during the scan ${pingText(r.pingDuringScan)}`);
  console.log(`                                     during the floor's one blocking loop ${pingText(r.pingDuringFloor)}`);
}

/** The audit's targets over all host results: [{ what, value, met, note }]. */
export function hostTargets(results) {
  const out = [];
  for (const r of results) {
    const s = summarize(r);
    const tag = `${r.storage}, ${r.accounts.toLocaleString("en")}`;
    if (!r.scan.length) {
      out.push({ what: `${tag}: camctl host clients`, value: "skipped", met: null, note: r.scanSkipped });
      continue;
    }
    out.push({ what: `${tag}: total ≤ 1.5 × floor + one camctl start`, value: `${ms2s(s.scanMs)} s ≤ ${ms2s(s.allowedMs)} s`, met: s.scanMs <= s.allowedMs });
    out.push({ what: `${tag}: ≥ 100 × faster than the prosodyctl loop`, value: `${s.speedup.toFixed(0)} ×`, met: s.speedup >= 100,
      note: `the floor alone: ${(r.anchorExtrapolatedMs / s.floorMs).toFixed(0)} ×` });
    out.push({ what: `${tag}: first row ≤ 0.5 s`, value: `${f1(s.firstRowMs)} ms`, met: s.firstRowMs <= 500 });
    out.push({ what: `${tag}: ping p99 during the scan ≤ 50 ms`, value: `${f1(r.pingDuringScan.p99)} ms`, met: r.pingDuringScan.p99 <= 50 && r.pingDuringScan.lost === 0 });
    out.push({ what: `${tag}: ping max during the scan ≤ 200 ms`, value: `${f1(r.pingDuringScan.max)} ms`, met: r.pingDuringScan.max <= 200 && r.pingDuringScan.lost === 0 });
  }
  const storages = [...new Set(results.map((r) => r.storage))];
  for (const st of storages) {
    const mine = results.filter((r) => r.storage === st && r.scan.length);
    const big = mine.find((r) => r.accounts >= 10_000);
    const small = mine.find((r) => r.accounts === 1000);
    if (big) {
      const rss = summarize(big).rssMiB;
      out.push({ what: `${st}, 10,000: peak RSS ≤ 80 MiB`, value: `${f1(rss)} MiB`, met: rss <= 80 });
      if (small) {
        const ratio = rss / summarize(small).rssMiB;
        out.push({ what: `${st}: peak RSS at 10,000 within 10 % of 1,000`, value: `${f1(rss)} vs ${f1(summarize(small).rssMiB)} MiB (${((ratio - 1) * 100).toFixed(1)} %)`, met: ratio <= 1.1 });
      }
    }
  }
  return out;
}
