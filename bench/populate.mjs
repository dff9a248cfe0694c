// Fast, realistic population of a sandbox host for the host-wide benchmarks.
//
// Real logins make ~60 clients/s (Sandbox.populate), far too slow for 50,000 clients. So the
// bench writes what those logins would have left behind, through the server's own storage API
// (storagemanager.open(host, store, type), the same call modules make with module:open_store),
// from the admin socket, a batch of accounts per request:
//
//   accounts     (keyval)   the auth provider's record: SCRAM-SHA-1 credentials made once per
//                           batch by Prosody's own util.sasl.scram for the password BENCH_PASSWORD,
//                           `created`/`updated` back-dated, so logins recorded after that count;
//   clients      (keyval+)  mod_client_management's records, one key per client id, in the layout
//                           the module writes (id, first_seen, last_seen, full_jid, mechanisms,
//                           user_agent {software, device}, and where they apply legacy, fast_auth,
//                           auth_token_id);
//   auth_tokens  (keyval+)  mod_tokenauth's grants (id, owner, jid, created, accessed, expires,
//                           data.oauth2_client {name, id, version, uri}, one refresh token);
//   fast_tokens  (map)      mod_sasl2_fast's tokens, key sha256hex(client id) .. "-cur".
//
// Every value is generated here from a seeded PRNG (same seed, same host) and sent as Lua
// literals (our own ASCII, quoted by the sandbox's luaString). generateAccount() also says what
// the module must list for each record, so the result can be checked against
// get_active_clients (checkSample) and the total against the floor's row count.
import { createHash } from "node:crypto";

export const BENCH_PASSWORD = "bench-password";
const DAY = 86_400;

/** mulberry32: small, fast, good enough for test data; deterministic for a seed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SASL2_CLIENTS = [
  // software, device, mobile (mobile clients are the FAST users), weight
  ["Conversations", "Pixel 7", true, 14],
  ["Conversations", "Galaxy S23", true, 8],
  ["Monocles Chat", "Fairphone 5", true, 4],
  ["Cheogram", "Pixel 6a", true, 4],
  ["Siskin IM", "iPhone", true, 4],
  ["Monal", "iPhone 15", true, 8],
  ["Monal", "MacBook Air", false, 3],
  ["Gajim", "Laptop", false, 12],
  ["Gajim", "Desktop", false, 6],
  ["Dino", "ThinkPad", false, 8],
  ["Psi+", "Workstation", false, 2],
  ["Profanity", "shell box", false, 2],
  ["Kaidan", "Librem 5", true, 2],
  ["Movim", "Firefox", false, 3],
];
const GRANT_CLIENTS = [
  // name, id, version, uri, weight
  ["Webmail", "webmail", "2.4.1", "https://webmail.example/", 10],
  ["Converse.js", "conversejs", "11.0.0", "https://chat.example/", 6],
  ["Movim", "movim", "0.29", "https://movim.example/", 4],
  ["Calendar sync", "caldav-bridge", "1.2", "https://cal.example/", 3],
  ["Evil Client", "evil-client", "2.3", "https://evil.example/", 2],
];
const pick = (rnd, table) => {
  const total = table.reduce((s, row) => s + row.at(-1), 0);
  let x = rnd() * total;
  for (const row of table) if ((x -= row.at(-1)) < 0) return row;
  return table.at(-1);
};
const int = (rnd, lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const token = (rnd, n) => {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let s = "";
  for (let i = 0; i < n; i++) s += abc[Math.floor(rnd() * 64)];
  return s;
};
const uuid = (rnd) => {
  const h = () => Math.floor(rnd() * 16).toString(16);
  const part = (n) => Array.from({ length: n }, h).join("");
  return `${part(8)}-${part(4)}-4${part(3)}-${"89ab"[Math.floor(rnd() * 4)]}${part(3)}-${part(12)}`;
};

/** How long ago a client was last seen: most recently, a long tail of stale ones. */
function lastSeenAgo(rnd) {
  const r = rnd();
  if (r < 0.4) return int(rnd, 60, 7 * DAY);
  if (r < 0.65) return int(rnd, 7 * DAY, 30 * DAY);
  if (r < 0.8) return int(rnd, 30 * DAY, 90 * DAY);
  return int(rnd, 90 * DAY, 700 * DAY);
}

/**
 * One account's records. `listed` says what get_active_clients must report for it:
 * { id, type, auth: sorted methods } or null (stored, but no access left: not listed).
 */
export function generateAccount(localpart, host, rnd, now) {
  const base = now - 800 * DAY; // account created and password set 800 days ago
  const jid = `${localpart}@${host}`;
  const clients = [];
  const grants = [];
  const fastTokens = [];

  const sasl2Count = int(rnd, 2, 5);
  for (let k = 0; k < sasl2Count; k++) {
    const [software, device, mobile] = pick(rnd, SASL2_CLIENTS);
    const id = uuid(rnd);
    const last = now - lastSeenAgo(rnd);
    const first = last - int(rnd, 0, Math.min(last - base - 1, 400 * DAY));
    const passwordMech = rnd() < 0.75 ? "SCRAM-SHA-1" : "PLAIN";
    const record = {
      id,
      first_seen: first,
      last_seen: last,
      full_jid: `${jid}/${software.replace(/[^A-Za-z]/g, "").toLowerCase()}.${token(rnd, 4)}`,
      mechanisms: { [passwordMech]: first },
      user_agent: { software, device },
    };
    const auth = ["password"];
    if (mobile && rnd() < 0.6) {
      // A FAST user: logged in with its token since; the token is rotated on use (issued at the
      // last login) and valid for 21 days, so only clients seen within 21 days still have FAST.
      record.mechanisms["HT-SHA-256-NONE"] = last;
      record.fast_auth = last;
      fastTokens.push({ clientId: id, issued_at: last, expires_at: last + 21 * DAY, secret: `secret-token:fast-${token(rnd, 27)}` });
      if (last + 21 * DAY >= now) auth.push("fast");
    } else {
      record.mechanisms[passwordMech] = last;
      if (mobile && rnd() < 0.3) {
        // Obtained a FAST token but never used it: the module lists the password only.
        fastTokens.push({ clientId: id, issued_at: last, expires_at: last + 21 * DAY, secret: `secret-token:fast-${token(rnd, 27)}` });
      }
    }
    clients.push({ record, listed: { id: `client/${id}`, type: "session", auth: auth.sort() } });
  }

  if (rnd() < 0.1) {
    // A pre-SASL2 client: random short id, found again by its resource, no user agent.
    const last = now - lastSeenAgo(rnd);
    const first = last - int(rnd, 0, Math.min(last - base - 1, 200 * DAY));
    const id = token(rnd, 12);
    const record = { id, first_seen: first, last_seen: last, full_jid: `${jid}/legacy-${token(rnd, 6)}`, mechanisms: { PLAIN: last }, legacy: true };
    clients.push({ record, listed: { id: `client/${id}`, type: "session", auth: ["password"] } });
  }

  const grantCount = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3][int(rnd, 0, 9)];
  for (let k = 0; k < grantCount; k++) {
    const [name, softwareId, version, uri] = pick(rnd, GRANT_CLIENTS);
    const created = now - int(rnd, DAY, 600 * DAY);
    const r = rnd();
    // Without expiry, with a far one, or about to expire (within a week).
    const expires = r < 0.5 ? null : r < 0.85 ? now + int(rnd, 30 * DAY, 365 * DAY) : now + int(rnd, 3600, 7 * DAY);
    const neverUsed = rnd() < 0.3;
    const accessed = neverUsed ? created : now - int(rnd, 60, now - created);
    const id = token(rnd, 12);
    const secretHash = createHash("sha256").update(token(rnd, 24)).digest("hex");
    grants.push({
      record: {
        id,
        owner: jid,
        created,
        expires,
        accessed,
        jid,
        data: { oauth2_client: { name, id: softwareId, version, uri } },
        tokens: { [`sha256:${secretHash}`]: { created, expires, purpose: "oauth2-refresh" } },
      },
      listed: { id: `grant/${id}`, type: "access", auth: ["grant"] },
    });
    if (!neverUsed && rnd() < 0.25) {
      // A SASL2 client that logged in with this grant's access token (OAUTHBEARER). The module
      // never ties it to the grant, so once disconnected it is stored but not listed.
      const cid = uuid(rnd);
      clients.push({
        record: { id: cid, first_seen: accessed, last_seen: accessed, full_jid: `${jid}/${softwareId}.${token(rnd, 4)}`,
          mechanisms: { OAUTHBEARER: accessed }, user_agent: { software: name }, auth_token_id: id },
        listed: null,
      });
    }
  }
  return { localpart, jid, created: base, clients, grants, fastTokens };
}

/** A Lua literal for a JSON-like value (strings through the sandbox's luaString). */
function lua(v, luaString) {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "number") return String(v);
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return luaString(v);
  return "{" + Object.entries(v).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => `[${luaString(k)}]=${lua(x, luaString)}`).join(",") + "}";
}

const WRITE_BATCH_LUA = (host, batchLiteral, luaString) => `local sm = require "prosody.core.storagemanager"
local scram = require "prosody.util.sasl.scram"
local hex = require "prosody.util.hex"
local sha256 = require "prosody.util.hashes".sha256
local host = ${luaString(host)}
local accounts = sm.open(host, "accounts")
local clients = sm.open(host, "clients", "keyval+")
local grants = sm.open(host, "auth_tokens", "keyval+")
local fast = sm.open(host, "fast_tokens", "map")
local salt = "bench-salt"
local iterations = 10000
local ok, stored_key, server_key = scram.hashers["SHA-1"](${luaString(BENCH_PASSWORD)}, salt, iterations)
assert(ok, "scram")
stored_key, server_key = hex.encode(stored_key), hex.encode(server_key)
-- SQLite: the default synchronous=FULL makes every store call an fsync'd commit (4 per account,
-- ~5 ms each here). Populating with synchronous=OFF and restoring the old value afterwards
-- changes nothing the benchmark measures (reads) and is 4-7x faster. LuaDBI keeps a transaction
-- open, and the pragma cannot change inside one: commit, autocommit on for the pragma, off again.
local engine
do
  accounts:get("bench-connect") -- opens the SQL connection if storage is SQL
  local sql = prosody.hosts[host].modules.storage_sql
  for _, e in pairs(sql and sql.module:shared("/*/sql/connections") or {}) do
    if e.params.driver == "SQLite3" and e.conn then engine = e end
  end
end
local function synchronous(value)
  if not engine then return end
  local old
  for row in engine:select("PRAGMA synchronous") do old = row[1] end
  engine.conn:commit() engine.conn:autocommit(true)
  engine:execute("PRAGMA synchronous=" .. value)
  engine.conn:autocommit(false)
  return old
end
local old_synchronous = synchronous("OFF")
local n = 0
for _, a in ipairs(${batchLiteral}) do
  local user = a[1]
  assert(accounts:set(user, { stored_key = stored_key, server_key = server_key, salt = salt,
    iteration_count = iterations, created = a[2], updated = a[2] }))
  assert(clients:set(user, a[3]))
  if next(a[4]) then assert(grants:set(user, a[4])) end
  if next(a[5]) then
    local keys = {}
    for client_id, t in pairs(a[5]) do keys[sha256(client_id, true) .. "-cur"] = t end
    assert(fast:set_keys(user, keys))
  end
  n = n + 1
end
if old_synchronous then synchronous(old_synchronous) end
return tostring(n)`;

/**
 * Creates `count` accounts `${prefix}1…` on `host` with their clients. Returns the generated
 * accounts (records and what must be listed) and the number of rows the host must list.
 */
export async function populateHost(sb, { host = sb.host, count, prefix = "user", seed = 1, batchBytes = 600_000, log = () => {} }) {
  const { luaString } = await import(new URL("../build/test/sandbox/admin-socket.js", import.meta.url).href);
  const { replRequest } = await import(new URL("../build/test/sandbox/admin-socket.js", import.meta.url).href);
  const rnd = prng(seed);
  const now = Math.floor(Date.now() / 1000);
  const accounts = [];
  let expectedRows = 0;
  let records = 0;
  let batch = [];
  let batchSize = 0;
  const t0 = performance.now();
  const flush = async () => {
    if (batch.length === 0) return;
    const code = WRITE_BATCH_LUA(host, "{" + batch.join(",") + "}", luaString);
    // The admin socket takes stanzas up to 1 MB; batchBytes keeps well under it.
    const r = await replRequest(sb.socketPath, ">" + code, 300_000);
    if (r.error || r.result !== `Result: ${batch.length}`) throw new Error(`bench: populate batch failed: ${r.result}`);
    batch = [];
    batchSize = 0;
  };
  for (let i = 1; i <= count; i++) {
    const a = generateAccount(`${prefix}${i}`, host, rnd, now);
    accounts.push(a);
    expectedRows += a.clients.filter((c) => c.listed).length + a.grants.length;
    records += a.clients.length + a.grants.length;
    const clientMap = Object.fromEntries(a.clients.map((c) => [c.record.id, c.record]));
    const grantMap = Object.fromEntries(a.grants.map((g) => [g.record.id, g.record]));
    const fastMap = Object.fromEntries(a.fastTokens.map((t) => [t.clientId, { mechanism: "HT-SHA-256-NONE", secret: t.secret, issued_at: t.issued_at, expires_at: t.expires_at }]));
    const literal = `{${luaString(a.localpart)},${a.created},${lua(clientMap, luaString)},${lua(grantMap, luaString)},${lua(fastMap, luaString)}}`;
    batch.push(literal);
    batchSize += literal.length;
    if (batchSize >= batchBytes) await flush();
  }
  await flush();
  const seconds = (performance.now() - t0) / 1000;
  log(`  populated ${count} accounts, ${records} stored records (${expectedRows} to be listed) in ${seconds.toFixed(1)} s`);
  return { accounts, expectedRows, records, seconds };
}

/**
 * Checks the population is real: for a sample of accounts, the module's own get_active_clients
 * lists exactly the generated entries (ids, type, auth methods); the password works through the
 * auth provider. Throws with the first difference.
 */
export async function checkSample(sb, populated, { host = sb.host, sample = 8 } = {}) {
  const { luaString } = await import(new URL("../build/test/sandbox/admin-socket.js", import.meta.url).href);
  const picks = [];
  const step = Math.max(1, Math.floor(populated.accounts.length / sample));
  for (let i = 0; i < populated.accounts.length && picks.length < sample; i += step) picks.push(populated.accounts[i]);
  // Make sure the sample has FAST users, legacy and OAUTHBEARER clients, grants if any exist.
  for (const want of [(a) => a.clients.some((c) => c.listed?.auth.includes("fast")), (a) => a.clients.some((c) => c.record.legacy), (a) => a.clients.some((c) => !c.listed)]) {
    const a = populated.accounts.find(want);
    if (a && !picks.includes(a)) picks.push(a);
  }
  for (const a of picks) {
    const text = await sb.lua(`local cm = prosody.hosts[${luaString(host)}].modules.client_management
local um = require "prosody.core.usermanager"
assert(um.test_password(${luaString(a.localpart)}, ${luaString(host)}, ${luaString(BENCH_PASSWORD)}), "password")
local out = {}
for _, c in ipairs(cm.get_active_clients(${luaString(a.localpart)})) do
  local auth = {}
  for k in pairs(c.active or {}) do auth[#auth + 1] = k end
  table.sort(auth)
  out[#out + 1] = c.id .. " " .. c.type .. " " .. table.concat(auth, ",")
end
table.sort(out)
return table.concat(out, "\\n")`);
    const got = text.split("\n").filter(Boolean);
    const want = [...a.clients.filter((c) => c.listed).map((c) => c.listed), ...a.grants.map((g) => g.listed)]
      .map((l) => `${l.id} ${l.type} ${l.auth.join(",")}`)
      .sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`bench: ${a.jid}: get_active_clients lists\n  ${got.join("\n  ")}\nbut the population made\n  ${want.join("\n  ")}`);
    }
  }
  return picks.length;
}

/**
 * The accounts a real host also has, and an intruder can make (issue 21): `big` with `bigGrants`
 * OAuth grants, and `wide` with `wideGrants` grants of which one carries a client name of
 * `longName` bytes (quotes and backslashes in it, so it must be escaped). Written inside Prosody
 * by a Lua loop, through the same storage API (a 40,000-grant literal would not fit in one
 * admin-socket stanza). Returns entries in populateHost's form, to be appended to its accounts.
 */
export async function populateExtremes(sb, { host = sb.host, bigGrants = 40_000, wideGrants = 1000, longName = 200 * 1024, log = () => {} } = {}) {
  const { luaString, replRequest } = await import(new URL("../build/test/sandbox/admin-socket.js", import.meta.url).href);
  const now = Math.floor(Date.now() / 1000);
  const made = [];
  const t0 = performance.now();
  // Named to sort after the regular accounts ("user…"), which the scan reads in name order: the
  // first row then measures camctl, and the extremes' cost shows in the total and the pings.
  for (const [localpart, count, prefix] of [["xl-grants", bigGrants, "big"], ["xl-longname", wideGrants, "wide"]]) {
    if (!count) continue;
    const jid = `${localpart}@${host}`;
    const code = `local sm = require "prosody.core.storagemanager"
local scram = require "prosody.util.sasl.scram"
local hex = require "prosody.util.hex"
local host, user, jid, now = ${luaString(host)}, ${luaString(localpart)}, ${luaString(jid)}, ${now}
local accounts = sm.open(host, "accounts")
local ok, stored_key, server_key = scram.hashers["SHA-1"](${luaString(BENCH_PASSWORD)}, "bench-salt", 10000)
assert(ok, "scram")
assert(accounts:set(user, { stored_key = hex.encode(stored_key), server_key = hex.encode(server_key), salt = "bench-salt",
  iteration_count = 10000, created = now - ${800 * DAY}, updated = now - ${800 * DAY} }))
local long = ${prefix === "wide" ? `(string.rep('Evil "client" \\\\ ', ${Math.ceil(longName / 16)})):sub(1, ${longName})` : "nil"}
local grants = {}
for i = 1, ${count} do
  local id = string.format("%s%07d", ${luaString(prefix)}, i)
  local created = now - 86400 - i
  grants[id] = { id = id, owner = jid, jid = jid, created = created, accessed = created,
    data = { oauth2_client = { name = (i == 1 and long) or "Bulk client " .. i, id = "bulk", version = "1.0", uri = "https://bulk.example/" } },
    tokens = { ["sha256:" .. string.format("%064d", i)] = { created = created, purpose = "oauth2-refresh" } } }
end
assert(sm.open(host, "auth_tokens", "keyval+"):set(user, grants))
return tostring(${count})`;
    const r = await replRequest(sb.socketPath, ">" + code, 600_000);
    if (r.error || r.result !== `Result: ${count}`) throw new Error(`bench: populating ${jid} failed: ${r.result}`);
    const grants = [];
    for (let i = 1; i <= count; i++) {
      grants.push({ listed: { id: `grant/${prefix}${String(i).padStart(7, "0")}`, type: "access", auth: ["grant"] } });
    }
    made.push({ localpart, jid, created: now - 800 * DAY, clients: [], grants, fastTokens: [] });
  }
  log(`  populated the extreme accounts (${bigGrants} grants; ${wideGrants} grants, one named with ${longName} bytes) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return made;
}
