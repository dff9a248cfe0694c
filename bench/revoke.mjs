// The bulk revocation benchmark: `camctl host revoke <host> --all --yes -o ndjson` on a host of
// 2,000 accounts with ~5 clients each (~10,000 items: grants, FAST users, password clients),
// populated like the audit benchmark. Reports wall time, peak RSS, items per second and the
// pinging client's round trips during the apply; then checks the server: no grant and no FAST
// access left, password clients still listed (only a password change stops those). For scale,
// the module's own revoke_client_access over every listed entry, in one Lua loop inside Prosody
// (the same state, populated again), is timed too.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { camctl, runFloor } from "./host.mjs";
import { clock, median } from "./measure.mjs";
import { startPinger, stats } from "./ping.mjs";
import { populateHost } from "./populate.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");

async function hostRevokeMissing(work) {
  const help = path.join(work, "help.txt");
  const r = await camctl(["host", "revoke", "--help"], { work, expectCode: null, outFile: help });
  return r.code === 0 && /Usage: camctl host revoke/.test(fs.readFileSync(help, "utf8")) ? null : "this build has no `camctl host revoke` yet";
}

/** What is left on the host, per kind: { rows, grants, fast, password }. */
async function leftOnHost(sb) {
  const { luaString } = await import(`${root}build/test/sandbox/admin-socket.js`);
  const text = await sb.lua(`local um = require "prosody.core.usermanager"
local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
local rows, grants, fast, password = 0, 0, 0, 0
for user in um.users(${luaString(sb.host)}) do
  for _, c in ipairs(cm.get_active_clients(user)) do
    rows = rows + 1
    if c.active.grant then grants = grants + 1 end
    if c.active.fast then fast = fast + 1 end
    if c.active.password then password = password + 1 end
  end
end
return string.format("%d %d %d %d", rows, grants, fast, password)`);
  const [rows, grants, fast, password] = text.split(" ").map(Number);
  return { rows, grants, fast, password };
}

/** The module's own revocation of every listed entry, one Lua loop inside Prosody; ms. */
async function moduleRevokeLoop(sb) {
  const { luaString, replRequest } = await import(`${root}build/test/sandbox/admin-socket.js`);
  const r = await replRequest(sb.socketPath, `>local now = require "prosody.util.time".now
local um = require "prosody.core.usermanager"
local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
local t, items = now(), 0
local users = {}
for user in um.users(${luaString(sb.host)}) do users[#users + 1] = user end
for _, user in ipairs(users) do
  for _, c in ipairs(cm.get_active_clients(user)) do
    cm.revoke_client_access(user, c.id)
    items = items + 1
  end
end
return string.format("%d %.3f", items, (now() - t) * 1000)`, 600_000);
  if (r.error) throw new Error(`bench: the module's revoke loop failed: ${r.result}`);
  const [items, ms] = r.result.replace(/^Result: /, "").split(" ").map(Number);
  return { items, ms };
}

/**
 * camctl's own server-side work for the same items, with no transport: the library's
 * client_access.revoke_many (what one revoke_many request runs: each item checked, revoked,
 * verified) and history_log.record per item, over every account in one Lua loop inside Prosody.
 * Also the time spent in each module call it makes (wrapped for the loop, restored after).
 */
async function camctlServerLoop(sb) {
  const { luaString, replRequest } = await import(`${root}build/test/sandbox/admin-socket.js`);
  const lua = (p) => fs.readFileSync(path.join(root, p), "utf8");
  const mod = (name, src) => `local ${name} = (function(...)\n${src}\nend)()\n`;
  const r = await replRequest(sb.socketPath, `>local now = require "prosody.util.time".now
local um = require "prosody.core.usermanager"
local host = ${luaString(sb.host)}
local cm = prosody.hosts[host].modules.client_management
local mods = prosody.hosts[host].modules
${mod("client_access", lua("prosody/mod_client_management_admin/client_access.lib.lua"))}
${mod("history_log", lua("prosody/mod_client_management_admin/history_log.lib.lua"))}
local users = {}
for user in um.users(host) do users[#users + 1] = user end
local spent, wrapped = {}, {}
local function wrap(tbl, name, key)
  local f = type(tbl) == "table" and tbl[name]
  if type(f) ~= "function" then return end
  wrapped[#wrapped + 1] = { tbl, name, f }
  tbl[name] = function (...)
    local a = now(); local r = table.pack(f(...)); spent[key] = (spent[key] or 0) + now() - a
    return table.unpack(r, 1, r.n)
  end
end
local listing, t, items = 0, now(), 0
local ok, err = pcall(function ()
  wrap(cm, "get_active_clients", "get_active_clients")
  wrap(mods.sasl2_fast, "is_client_fast", "is_client_fast")
  wrap(mods.sasl2_fast, "revoke_fast_tokens", "revoke_fast_tokens")
  wrap(mods.tokenauth, "get_grant_info", "get_grant_info")
  wrap(mods.tokenauth, "revoke_grant", "revoke_grant")
  wrap(um, "get_account_info", "get_account_info")
  wrap(history_log, "record", "history_log.record")
  local ctx = { host = host; actor = "bench"; log = require "prosody.util.logger".init("camctl") }
  for _, user in ipairs(users) do
    local a = now()
    local wanted = {}
    for _, c in ipairs(cm.get_active_clients(user)) do wanted[#wanted + 1] = { id = c.id } end
    listing = listing + now() - a
    for k, res in ipairs(client_access.revoke_many(ctx, user, wanted)) do
      if res[1] then history_log.record(host, user, "client-revoked", { client = wanted[k].id; actor = "bench" }) end
      items = items + 1
    end
  end
end)
local total = now() - t
for _, w in ipairs(wrapped) do w[1][w[2]] = w[3] end
if not ok then error(err) end
local parts = {}
for k, v in pairs(spent) do parts[#parts + 1] = string.format("%s=%.0f", k, v * 1000) end
table.sort(parts)
return string.format("%d %.3f %.3f %s", items, total * 1000, listing * 1000, table.concat(parts, ","))`, 600_000);
  if (r.error) throw new Error(`bench: camctl's server-side loop failed: ${r.result}`);
  const [items, ms, planListMs, parts] = r.result.replace(/^Result: /, "").split(" ");
  return { items: Number(items), ms: Number(ms), planListMs: Number(planListMs), calls: Object.fromEntries((parts ?? "").split(",").filter(Boolean).map((x) => x.split("=")).map(([k, v]) => [k, Number(v)])) };
}

export async function runRevokeBench({ work, quick, log }) {
  const accounts = quick ? 400 : 2000;
  const missing = await hostRevokeMissing(work);
  if (missing) {
    console.log(`  skipped: ${missing}`);
    return { skipped: missing, targets: [] };
  }
  const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);
  const sb = await startSandbox({});
  const result = { accounts };
  let pinger;
  try {
    const populated = await populateHost(sb, { count: accounts, seed: 7, prefix: "r", log });
    result.items = populated.expectedRows;
    const sessionsListed = populated.accounts.reduce((n, a) => n + a.clients.filter((c) => c.listed).length, 0);
    pinger = await startPinger(sb);
    const idle = [clock()];
    await sleep(3000);
    idle.push(clock());

    // The plan alone (the audit with the same filter), to tell planning from applying.
    const dry = await camctl(["host", "revoke", sb.host, "--all", "--dry-run", "-o", "ndjson", "--socket", sb.socketPath], { work, outFile: path.join(work, "plan.ndjson") });
    result.dryRun = { ms: dry.ms, rssKiB: dry.rssKiB, lines: dry.lines };

    const outFile = path.join(work, "revoke.ndjson");
    // Exit 7: some items need a password reset (password clients), which is what this host has.
    const r = await camctl(["host", "revoke", sb.host, "--all", "--yes", "-o", "ndjson", "--socket", sb.socketPath], { work, outFile, expectCode: null });
    if (r.code !== 0 && r.code !== 7) throw new Error(`bench: camctl host revoke exited ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
    Object.assign(result, { ms: r.ms, rssKiB: r.rssKiB, code: r.code, outputLines: r.lines });
    const outcomes = {};
    for (const line of fs.readFileSync(outFile, "utf8").split("\n")) {
      if (!line) continue;
      const rec = JSON.parse(line);
      const k = rec.outcome ?? rec.result ?? rec.status ?? "(summary or other)";
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    result.outcomes = outcomes;
    await sleep(1500);
    const inWindow = ([from, to]) => pinger.samples.filter((p) => p.at >= from && p.at <= to);
    result.pingIdle = stats(inWindow(idle));
    result.pingDuringApply = stats(inWindow([r.startedAt, r.endedAt]));
    result.after = await leftOnHost(sb);
    result.verified = result.after.grants === 0 && result.after.fast === 0 && result.after.rows === sessionsListed && result.after.password === sessionsListed;

    // The module's own loop on the same state, populated again.
    await populateHost(sb, { count: accounts, seed: 7, prefix: "r" });
    const floor = await runFloor(sb);
    if (floor.rows !== populated.expectedRows) throw new Error(`bench: re-population lists ${floor.rows} rows, expected ${populated.expectedRows}`);
    result.moduleLoop = await moduleRevokeLoop(sb);
    // camctl's own server-side work on the same state, populated again.
    await populateHost(sb, { count: accounts, seed: 7, prefix: "r" });
    result.camctlServer = await camctlServerLoop(sb);
    const starts = [];
    for (let i = 0; i < 5; i++) starts.push((await camctl(["--version"], { work })).ms);
    result.camctlStartMs = median(starts);
  } finally {
    await pinger?.stop();
    await sb.stop();
  }
  const p = (x) => (x.count ? `${f1(x.p50)} / ${f1(x.p99)} / ${f1(x.max)}${x.lost ? `, ${x.lost} unanswered` : ""} (${x.count} pings)` : "-");
  console.log(`\n${accounts.toLocaleString("en")} accounts, ${result.items.toLocaleString("en")} listed items (internal storage)`);
  console.log(`  camctl host revoke --all --yes -o ndjson   ${(result.ms / 1000).toFixed(2)} s (${(result.items / (result.ms / 1000)).toFixed(0)} items/s), exit ${result.code}, peak RSS ${f1(result.rssKiB / 1024)} MiB`);
  console.log(`  camctl host revoke --all --dry-run -o ndjson (the plan only)   ${(result.dryRun.ms / 1000).toFixed(2)} s, ${result.dryRun.lines} lines, peak RSS ${f1(result.dryRun.rssKiB / 1024)} MiB`);
  console.log(`  outcomes: ${Object.entries(result.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log(`  afterwards: ${result.after.rows} listed (${result.after.password} with a password, ${result.after.grants} grants, ${result.after.fast} FAST): ${result.verified ? "as expected" : "NOT as expected"}`);
  console.log(`  module's own revoke_client_access over every entry, one loop inside Prosody: ${(result.moduleLoop.ms / 1000).toFixed(2)} s for ${result.moduleLoop.items} items (bare module: no checks, connected sessions and FAST tokens left as the module leaves them)`);
  console.log(`  ping round trip, ms p50 / p99 / max: idle ${p(result.pingIdle)}; during the apply ${p(result.pingDuringApply)}`);
  const cs = result.camctlServer;
  console.log(`  camctl's own server-side work (client_access.revoke_many + history record per item), one loop inside Prosody: ${(cs.ms / 1000).toFixed(2)} s for ${cs.items} items` +
    ` (${(cs.ms / result.moduleLoop.ms).toFixed(2)} × the module's loop); in module calls, ms: ${Object.entries(cs.calls).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  const allowed = 1.5 * result.moduleLoop.ms + result.camctlStartMs;
  console.log(`  one camctl start (camctl --version, median of 5) ${(result.camctlStartMs / 1000).toFixed(2)} s; allowed 1.5 × the module's loop + one start = ${(allowed / 1000).toFixed(2)} s; camctl ${(result.ms / result.moduleLoop.ms).toFixed(2)} × the module's loop`);
  const tag = `revoke ${result.items.toLocaleString("en")} items on ${accounts.toLocaleString("en")} accounts`;
  result.targets = [
    { what: `${tag}: apply ≤ 1.5 × the module's own revoke loop + one camctl start`, value: `${(result.ms / 1000).toFixed(2)} s ≤ ${(allowed / 1000).toFixed(2)} s`, met: result.ms <= allowed,
      note: `camctl's server-side work alone: ${(cs.ms / 1000).toFixed(2)} s` },
    { what: `${tag}: server state afterwards as expected`, value: result.verified ? "yes" : JSON.stringify(result.after), met: result.verified },
    { what: `${tag}: ping p99 during the apply ≤ 50 ms (the audit's bound)`, value: `${f1(result.pingDuringApply.p99)} ms`, met: result.pingDuringApply.p99 <= 50 && result.pingDuringApply.lost === 0 },
    { what: `${tag}: ping max during the apply ≤ 200 ms (the audit's bound)`, value: `${f1(result.pingDuringApply.max)} ms`, met: result.pingDuringApply.max <= 200 && result.pingDuringApply.lost === 0 },
    { what: `${tag}: peak RSS ≤ 80 MiB (the audit's bound: memory should not grow with the plan)`, value: `${f1(result.rssKiB / 1024)} MiB`, met: result.rssKiB / 1024 <= 80 },
  ];
  return result;
}
