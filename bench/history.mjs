// The history benchmark: `camctl host history <host> -o ndjson` over 100,000 audit entries, over
// the admin socket and over XMPP through the companion module: wall time, time to the first row,
// camctl's peak RSS (target ≤ 80 MiB: the history is streamed, memory must not grow with it).
//
// The entries are written server-side, from the admin socket, through the host's archive store
// "audit" (storagemanager.open(host, "audit", "archive"):append, the call mod_audit makes), a
// batch per request, generated inside Prosody from a seed in mod_audit_auth's shape: logins
// (70 %), failed logins (20 %) and new clients (10 %) of 1,000 accounts from a handful of
// addresses, times ascending over the last 20 days. Prosody's internal store keeps at most
// storage_archive_item_limit (10,000 by default) entries per archive, so the bench raises that
// limit first (and reloads mod_storage_internal): a real server keeping 100,000 audit entries
// needs the same, or SQL storage.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { camctl } from "./host.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");

/** Lua: `count` entries from index `from` (1-based) of `total`, appended to the audit archive; returns the count written. */
const batchLua = (luaString, host, from, count, total, now) => `local st = require "prosody.util.stanza"
local store = require "prosody.core.storagemanager".open(${luaString(host)}, "audit", "archive")
local host, total, now = ${luaString(host)}, ${total}, ${now}
local span = 20 * 86400
local ips = { "127.0.0.2", "127.0.0.3", "192.0.2.10", "198.51.100.7", "2001:db8::5", "203.0.113.44" }
local n = 0
for i = ${from}, ${from + count - 1} do
  local user = "user" .. (i * 7919 % 1000 + 1) .. "@" .. host
  local kind = i % 10
  local event = kind < 7 and "authentication-success" or kind < 9 and "authentication-failure" or "new-client"
  local session = st.stanza("session", { xmlns = "xmpp:prosody.im/audit"; id = "c2s" .. i; type = (kind == 7 or kind == 8) and "c2s_unauthed" or "c2s" })
    :text_tag("remote-ip", ips[i % #ips + 1]):text_tag("client", "dev-" .. (i * 31 % 3000))
  local entry = st.stanza("audit-event", { type = event; source = "mod_audit_auth"; user = user }):add_child(session)
  local when = now - span + math.floor(span * (i - 1) / total)
  assert(store:append(nil, nil, entry, when, user))
  n = n + 1
end
return tostring(n)`;

/** Writes `total` audit entries on the sandbox's host; returns seconds. */
async function fillAudit(sb, total, log) {
  const { luaString, replRequest } = await import(`${root}build/test/sandbox/admin-socket.js`);
  // Room for them in the internal store (see the top of this file).
  await sb.lua(`require "prosody.core.configmanager".set("*", "storage_archive_item_limit", ${total * 2})
require "prosody.core.modulemanager".reload(${luaString(sb.host)}, "storage_internal")
return true`);
  const now = Math.floor(Date.now() / 1000);
  const t0 = performance.now();
  const per = 5000;
  for (let from = 1; from <= total; from += per) {
    const count = Math.min(per, total - from + 1);
    const r = await replRequest(sb.socketPath, ">" + batchLua(luaString, sb.host, from, count, total, now), 600_000);
    if (r.error || r.result !== `Result: ${count}`) throw new Error(`bench: writing audit entries failed: ${r.result}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`  wrote ${total} audit entries in ${seconds.toFixed(1)} s`);
  return seconds;
}

export async function runHistoryBench({ work, quick, log }) {
  const total = quick ? 20_000 : 100_000;
  const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);
  const sb = await startSandbox({ extraModules: ["audit", "audit_auth", "client_management_admin"], admins: ["boss"] });
  const result = { total };
  try {
    result.fillSeconds = await fillAudit(sb, total, log);
    const runs = [];
    const socketOut = path.join(work, "history-socket.ndjson");
    const s = await camctl(["host", "history", sb.host, "-o", "ndjson", "--socket", sb.socketPath], { work, outFile: socketOut });
    runs.push({ what: "admin socket", ...pick(s) });

    const boss = await sb.createAccount("boss");
    const home = fs.mkdtempSync(path.join(work, "home-"));
    const pw = path.join(home, "pw");
    fs.writeFileSync(pw, boss.password + "\n", { mode: 0o600 });
    const env = { HOME: home, XDG_STATE_HOME: path.join(home, "state"), XDG_CONFIG_HOME: path.join(home, "config") };
    const xmppArgs = ["--jid", boss.jid, "--password-file", pw, "--server", `127.0.0.1:${sb.c2sPort}`, "--ca-file", sb.caFile];
    const x = await camctl(["host", "history", sb.host, "-o", "ndjson", ...xmppArgs], { work, env, outFile: path.join(work, "history-xmpp.ndjson") });
    runs.push({ what: "XMPP (companion, default pages)", ...pick(x) });
    result.runs = runs;
    // Every written entry arrived (over XMPP also camctl's own login as boss, one or two entries more).
    result.complete = runs[0].lines === total && runs[1].lines >= total;
  } finally {
    await sb.stop();
  }
  console.log(`\n${total.toLocaleString("en")} audit entries (mod_audit's archive, internal storage), written in ${f1(result.fillSeconds)} s`);
  for (const r of result.runs) {
    console.log(`  camctl host history -o ndjson, ${r.what}: ${(r.ms / 1000).toFixed(2)} s, first row ${f1(r.firstLineMs)} ms, ${r.lines.toLocaleString("en")} rows (${(r.lines / (r.ms / 1000)).toFixed(0)} rows/s), peak RSS ${f1(r.rssKiB / 1024)} MiB`);
  }
  const tag = `host history over ${total.toLocaleString("en")} audit entries`;
  result.targets = [
    { what: `${tag}: every entry streamed`, value: result.runs.map((r) => `${r.what} ${r.lines}`).join(", "), met: result.complete },
    ...result.runs.map((r) => ({ what: `${tag}, ${r.what}: peak RSS ≤ 80 MiB`, value: `${f1(r.rssKiB / 1024)} MiB`, met: r.rssKiB / 1024 <= 80 })),
  ];
  return result;
}

const pick = (r) => ({ ms: r.ms, firstLineMs: r.firstLineMs, rssKiB: r.rssKiB, lines: r.lines, bytes: r.bytes });
