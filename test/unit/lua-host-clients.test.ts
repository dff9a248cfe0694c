// The host-wide listing's Lua in a real Lua 5.4 interpreter: client_filter.lib.lua (shared by the
// socket scan and the companion) decides exactly as camctl's matchesFilter does (or lets more
// through, never less), and the companion's paging (host_clients.lib.lua) covers every record
// exactly once whatever the page limits, splitting an account only when it alone exceeds a page.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { matchesFilter, NO_FILTER, type ClientFilter, type HostClientRecord } from "../../src/core/filters.js";
import { isoFromUnix } from "../../src/core/model.js";
import { luaModule } from "../../src/transports/socket/lua.js";
import { filterForServer } from "../../src/transports/socket/socket-source.js";
import { NO_LUA, luaBytes, luaFiles, runLua } from "../helpers/lua-interpreter.js";

function repoFile(...parts: string[]): string {
  for (let dir = path.dirname(new URL(import.meta.url).pathname); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, ...parts);
    if (fs.existsSync(candidate) && fs.existsSync(path.join(dir, "package.json"))) return fs.readFileSync(candidate, "utf8");
    if (dir === path.dirname(dir)) throw new Error(`${parts.join("/")} not found`);
  }
}
const COMPANION = ["prosody", "mod_client_management_admin"];
const LIBS = luaFiles("client_filter") + luaModule("host_clients", repoFile(...COMPANION, "host_clients.lib.lua"), ["client_access", "client_filter"]);
const lines = (script: string) => runLua(`${LIBS}\n${script}`).replace(/\n$/, "").split("\n");

const lua = (v: unknown): string => {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "string") return luaBytes(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `{ ${v.map(lua).join(", ")} }`;
  return `{ ${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => `${k} = ${lua(x)}`).join(", ")} }`;
};

/** The filter as client_filter.compile takes it: what the socket scan sends (the companion builds the same from <filter/>). */
const luaSpec = (f: ClientFilter) => lua(filterForServer(f));

interface Case { record: HostClientRecord; lastSeen: number | null; expires: number | null; filter: ClientFilter }

/** Does client_filter let each (record, filter) through? */
function luaDecisions(cases: Case[]): boolean[] {
  const script = cases.map(({ record: r, lastSeen, expires, filter }) => {
    const d = lua({ type: r.type, connected: r.connected, auth: r.auth, software: r.userAgent.software, version: r.userAgent.version, last_seen: lastSeen, expires });
    const [user, host] = [r.account.slice(0, r.account.lastIndexOf("@")), r.account.slice(r.account.lastIndexOf("@") + 1)];
    return `do local f = client_filter.compile(${luaSpec(filter)})
io.write(tostring(client_filter.account_matches(f, ${lua(user)}, ${lua(host)}) and client_filter.client_matches(f, ${d})), "\\n") end`;
  });
  return lines(script.join("\n")).map((s) => s === "true");
}

const T0 = 1_790_000_000;
const times = fc.option(fc.integer({ min: T0 - 5, max: T0 + 5 }), { nil: null });
const asciiName = fc.constantFrom("alice", "bob", "test-1", "test-22", "Test-3", "x.y", "a*b", "q?");
const caseArb: fc.Arbitrary<Case> = fc.record({
  type: fc.constantFrom("session" as const, "access" as const),
  connected: fc.boolean(),
  auth: fc.subarray(["fast", "grant", "password"]),
  software: fc.option(fc.constantFrom("Gajim", "Evil Client", "gajim"), { nil: null }),
  version: fc.option(fc.constantFrom("2.3", "1.0"), { nil: null }),
  lastSeen: times,
  expires: times,
  user: asciiName,
  host: fc.constantFrom("example.com", "other.example"),
  // Each filter field given or not, so that both outcomes are common.
  filter: fc.record({
    lastSeenBefore: times, lastSeenAfter: times, expiresBefore: times, noExpiry: fc.boolean(),
    software: fc.option(fc.record({ name: fc.constantFrom("Gajim", "Evil Client"), version: fc.option(fc.constantFrom("2.3", "1.0"), { nil: null }), exact: fc.constant(true) }), { nil: null }),
    auth: fc.subarray(["fast", "grant", "password"]),
    type: fc.option(fc.constantFrom("session" as const, "access" as const), { nil: null }),
    connected: fc.option(fc.boolean(), { nil: null }),
    account: fc.option(fc.constantFrom("test-*", "TEST-?", "*", "?ob", "*@example.com", "alice@*", "a\\*b", "x.y", "*-*", "a*b"), { nil: null }),
  }, { requiredKeys: [] }).map((given): ClientFilter => ({ ...NO_FILTER, ...given })),
}).map((c) => ({
  lastSeen: c.lastSeen,
  expires: c.expires,
  filter: c.filter,
  record: {
    account: `${c.user}@${c.host}`, id: "client/x", type: c.type, connected: c.connected, firstSeen: null,
    lastSeen: isoFromUnix(c.lastSeen), expires: isoFromUnix(c.expires), auth: c.auth,
    userAgent: { software: c.software, version: c.version, softwareId: null, uri: null, device: null }, permission: null,
  },
}));

test("client_filter decides exactly as matchesFilter (random records and filters, ASCII accounts)", { skip: NO_LUA }, () => {
  // A fixed seed: the same 600 cases every run (random ones made "both outcomes occur" fail now and
  // then, when every filter drawn was too narrow for any record).
  const cases = fc.sample(caseArb, { numRuns: 600, seed: 20261127 });
  const got = luaDecisions(cases);
  cases.forEach((c, i) => assert.equal(got[i], matchesFilter(c.record, c.filter), JSON.stringify(c)));
  assert.ok(got.some((x) => x) && got.some((x) => !x), "both outcomes occur");
});

test("client_filter at the boundaries: times equal to the bound, never seen, no expiry", { skip: NO_LUA }, () => {
  const base: HostClientRecord = {
    account: "a@example.com", id: "grant/g", type: "access", connected: false, firstSeen: null, lastSeen: null, expires: null, auth: ["grant"],
    userAgent: { software: null, version: null, softwareId: null, uri: null, device: null }, permission: null,
  };
  const cases: Case[] = [];
  for (const lastSeen of [null, T0 - 1, T0, T0 + 1]) {
    for (const expires of [null, T0 - 1, T0, T0 + 1]) {
      for (const filter of [
        { ...NO_FILTER, lastSeenBefore: T0 }, { ...NO_FILTER, lastSeenAfter: T0 }, { ...NO_FILTER, expiresBefore: T0 }, { ...NO_FILTER, noExpiry: true },
      ]) {
        cases.push({ record: { ...base, lastSeen: isoFromUnix(lastSeen), expires: isoFromUnix(expires) }, lastSeen, expires, filter });
      }
    }
  }
  const got = luaDecisions(cases);
  cases.forEach((c, i) => assert.equal(got[i], matchesFilter(c.record, c.filter), JSON.stringify(c)));
});

test("account globs beyond ASCII: the server may let more through, never less", { skip: NO_LUA }, () => {
  const subjects = ["jürgen", "JÜRGEN", "jurgen", "日本", "日本語", "straße", "a\u{1F600}b", "ab"];
  const globs = ["j?rgen", "jürgen", "JÜRGEN", "日?", "日*", "stra?e", "a?b", "*語"];
  const cases: Case[] = [];
  for (const user of subjects) {
    for (const account of globs) {
      const record: HostClientRecord = {
        account: `${user}@example.com`, id: "client/x", type: "session", connected: false, firstSeen: null, lastSeen: null, expires: null, auth: ["password"],
        userAgent: { software: null, version: null, softwareId: null, uri: null, device: null }, permission: null,
      };
      cases.push({ record, lastSeen: null, expires: null, filter: { ...NO_FILTER, account } });
    }
  }
  const got = luaDecisions(cases);
  cases.forEach((c, i) => {
    if (matchesFilter(c.record, c.filter)) assert.equal(got[i], true, `${c.record.account} ~ ${c.filter.account}`);
  });
  // And ? is one character, not one byte.
  assert.deepEqual(lines(`io.write(tostring(client_filter.glob("a?b")("a\\240\\159\\152\\128b")), " ", tostring(client_filter.glob("a??b")("a\\240\\159\\152\\128b")), "\\n")`), ["true false"]);
});

test("software as camctl receives it: a control character arrives as U+FFFD over XMPP, as itself over the socket", { skip: NO_LUA }, () => {
  const d = `{ type = "session", connected = false, auth = { "password" }, software = "Gaj\\27im" }`;
  const out = lines(["Gaj\x1bim", "Gaj\ufffdim", "Gajim"].map((name) => `io.write(tostring(client_filter.client_matches(client_filter.compile({ software = { name = ${luaBytes(name)} } }), ${d})), "\\n")`).join("\n"));
  assert.deepEqual(out, ["true", "true", "false"]);
});

test("client_filter.compile takes a malformed field as absent: more rows, never fewer", { skip: NO_LUA }, () => {
  const d = `{ type = "session", connected = false, auth = { "password" }, software = "Gajim", last_seen = 5 }`;
  const specs = [`{ type = "grant" }`, `{ connected = "yes" }`, `{ lastSeenBefore = "soon" }`, `{ lastSeenBefore = 1.5 }`, `{ software = "Gajim2" }`, `{ auth = "fast" }`, "nil"];
  assert.deepEqual(lines(specs.map((s) => `io.write(tostring(client_filter.client_matches(client_filter.compile(${s}), ${d})), "\\n")`).join("\n")), specs.map(() => "true"));
});

// ---------------------------------------------------------------------------------------------
// Paging.

interface Limits { records: number; bytes: number; accounts: number }

/**
 * Runs a whole scan with host_clients.page over `accounts` (localpart -> rows [id, size], in the
 * module's order), one page per call, and returns the pages: rows "user id", and the cursor.
 */
function scanPages(accounts: Record<string, Array<[string, number]>>, limits: Limits, maxPages = 200): Array<{ rows: string[]; last: string | null; scanned: number; complete: boolean; first: string | null }> {
  const names = Object.keys(accounts).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const data = `{ ${Object.entries(accounts).map(([k, rows]) => `[${lua(k)}] = ${lua(rows.map(([id, size]) => ({ id, size })))}`).join(", ")} }`;
  const out = lines(`local data = ${data}
local accounts = ${lua(names)}
local function read(user) return data[user] or {} end
local cursor
for _ = 1, ${maxPages} do
  local p = assert(host_clients.page(accounts, cursor, { records = ${limits.records}, bytes = ${limits.bytes}, accounts = ${limits.accounts}, seconds = 1e9 }, read, function () return 0 end))
  local rows = {}
  for _, item in ipairs(p.rows) do rows[#rows + 1] = item.user .. " " .. item.row.id end
  io.write(table.concat(rows, ","), "|", tostring(p.last), "|", p.scanned, "|", tostring(p.complete), "|", tostring(p.first), "\\n")
  if p.complete then break end
  cursor = host_clients.parse_cursor(p.last)
end`);
  return out.map((line) => {
    const [rows, last, scanned, complete, first] = line.split("|");
    return { rows: rows ? rows.split(",") : [], last: last === "nil" ? null : last!, scanned: Number(scanned), complete: complete === "true", first: first === "nil" ? null : first! };
  });
}

test("pages end at account boundaries while accounts fit, and carry the cursor of the last account finished", { skip: NO_LUA }, () => {
  const pages = scanPages({ bob: [["client/b1", 10], ["grant/b2", 10]], alice: [["client/a1", 10]], carol: [["client/c1", 10], ["client/c2", 10]], dave: [] }, { records: 3, bytes: 1e6, accounts: 100 });
  assert.deepEqual(pages, [
    { rows: ["alice client/a1", "bob client/b1", "bob grant/b2"], last: "bob", scanned: 2, complete: false, first: "alice" },
    { rows: ["carol client/c1", "carol client/c2"], last: "dave", scanned: 4, complete: true, first: "carol" },
  ]);
});

test("an empty host: one page, complete, no cursor", { skip: NO_LUA }, () => {
  assert.deepEqual(scanPages({}, { records: 3, bytes: 1e6, accounts: 100 }), [{ rows: [], last: null, scanned: 0, complete: true, first: null }]);
});

test("an account larger than a page is split in id order, each slice sent in the module's order; the cursor is '<user>/<id>'", { skip: NO_LUA }, () => {
  // Module order c, a, e, b, d (by last use); ids in order a < b < c < d < e.
  const big: Array<[string, number]> = [["client/c", 10], ["client/a", 10], ["client/e", 10], ["client/b", 10], ["client/d", 10]];
  const pages = scanPages({ big, zed: [["client/z", 10]] }, { records: 2, bytes: 1e6, accounts: 100 });
  assert.deepEqual(pages.map((p) => [p.rows, p.last]), [
    [["big client/a", "big client/b"], "big/client/b"],
    [["big client/c", "big client/d"], "big/client/d"],
    // The rest of the account fits: the page goes on with the next accounts.
    [["big client/e", "zed client/z"], "zed"],
  ]);
  // By bytes: a record bigger than a page still goes out, alone.
  const bytes = scanPages({ big: [["client/1", 500], ["client/2", 50], ["client/3", 50]], small: [["client/s", 50]] }, { records: 100, bytes: 120, accounts: 100 });
  assert.deepEqual(bytes.map((p) => p.rows), [["big client/1"], ["big client/2", "big client/3"], ["small client/s"]]);
});

test("the accounts read per page are bounded, also when none of them has a matching record", { skip: NO_LUA }, () => {
  const accounts = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`u${i}`, [] as Array<[string, number]>]));
  const pages = scanPages(accounts, { records: 100, bytes: 1e6, accounts: 3 });
  assert.deepEqual(pages.map((p) => [p.rows.length, p.last, p.scanned, p.complete]), [[0, "u2", 3, false], [0, "u5", 6, false], [0, "u6", 7, true]]);
});

test("a page's work stops at its time budget, after at least one account", { skip: NO_LUA }, () => {
  const out = lines(`local t = 0
-- Each look at the clock is 10 ms later: the page starts at 10 ms and looks before b, c and d.
local function clock() t = t + 0.01 return t end
local p = host_clients.page({ "a", "b", "c", "d" }, nil, { records = 100, bytes = 1e6, accounts = 100, seconds = 0.025 }, function () return {} end, clock)
io.write(p.last, " ", p.scanned, " ", tostring(p.complete), "\\n")
local q = host_clients.page({ "a", "b" }, nil, { records = 100, bytes = 1e6, accounts = 100, seconds = 0 }, function () return {} end, clock)
io.write(q.last, " ", q.scanned, "\\n")`);
  assert.deepEqual(out, ["c 3 false", "a 1"]);
});

test("the cursor is a position: accounts that went away or came in between pages do not disturb it", { skip: NO_LUA }, () => {
  const out = lines(`local function read(user) return { { id = "client/" .. user, size = 1 } } end
local lim = { records = 2, bytes = 1e6, accounts = 100, seconds = 1e9 }
local function show(p) local r = {} for _, i in ipairs(p.rows) do r[#r + 1] = i.row.id end io.write(table.concat(r, ","), " ", tostring(p.last), "\\n") end
-- "bob" was the cursor and has been deleted; "bobby" was created: the scan goes on after "bob".
show(host_clients.page({ "alice", "bobby", "carol" }, host_clients.parse_cursor("bob"), lim, read, os.clock))
-- A split account's cursor whose account is gone continues with the next account.
show(host_clients.page({ "alice", "carol" }, host_clients.parse_cursor("bob/client/x"), lim, read, os.clock))
-- An account that cannot be read is reported, and the page goes on.
local p = host_clients.page({ "a", "b" }, nil, lim, function (user) if user == "a" then return nil, "boom" end return read(user) end, os.clock)
io.write(p.failed[1].user, " ", p.failed[1].reason, " ", #p.failed, " ", p.rows[1].row.id, " ", p.last, " ", tostring(p.complete), "\\n")`);
  assert.deepEqual(out, ["client/bobby,client/carol carol", "client/carol carol", "a boom 1 client/b b true"]);
  assert.deepEqual(lines(`for _, c in ipairs({ "", "bob", "bob/client/a/b", "/x" }) do local p = host_clients.parse_cursor(c) io.write(p and (p.user .. "|" .. tostring(p.id)) or "nil", "\\n") end`),
    ["nil", "bob|nil", "bob|client/a/b", "|x"]);
});

test("whatever the limits, a scan hands over every record exactly once, in account order", { skip: NO_LUA }, () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.stringMatching(/^[a-z0-9é]{1,6}$/), fc.array(fc.tuple(fc.stringMatching(/^[a-z0-9/]{1,5}$/), fc.integer({ min: 1, max: 60 })), { maxLength: 8 }), { maxKeys: 12 }),
      fc.record({ records: fc.integer({ min: 1, max: 6 }), bytes: fc.integer({ min: 1, max: 150 }), accounts: fc.integer({ min: 1, max: 5 }) }),
      (accounts, limits) => {
        // Ids are unique within an account, as the module lists them.
        for (const [k, rows] of Object.entries(accounts)) accounts[k] = rows.filter(([id], i) => rows.findIndex(([other]) => other === id) === i);
        const pages = scanPages(accounts, limits, 500);
        assert.ok(pages.at(-1)!.complete, "the scan ends");
        const seen = pages.flatMap((p) => p.rows);
        const expected = Object.keys(accounts).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).flatMap((u) => accounts[u]!.map(([id]) => `${u} ${id}`));
        assert.deepEqual([...seen].sort(), [...expected].sort());
        assert.deepEqual(seen.map((r) => r.split(" ")[0]), expected.map((r) => r.split(" ")[0]), "accounts in order");
        for (const p of pages) assert.ok(p.rows.length <= limits.records, "records per page");
      },
    ),
    { numRuns: 60 },
  );
});

test("ranges of the snapshot (<index/> and end='n', the rest of a range by <after/>): every record exactly once, in account order", { skip: NO_LUA }, () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.stringMatching(/^[a-z0-9]{1,6}$/), fc.array(fc.tuple(fc.stringMatching(/^[a-z0-9/]{1,5}$/), fc.integer({ min: 1, max: 60 })), { maxLength: 8 }), { maxKeys: 12 }),
      fc.record({ records: fc.integer({ min: 1, max: 6 }), bytes: fc.integer({ min: 1, max: 150 }), accounts: fc.integer({ min: 1, max: 5 }) }),
      fc.integer({ min: 1, max: 5 }),
      (accounts, limits, size) => {
        for (const [k, rows] of Object.entries(accounts)) accounts[k] = rows.filter(([id], i) => rows.findIndex(([other]) => other === id) === i);
        const names = Object.keys(accounts).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const data = `{ ${Object.entries(accounts).map(([k, rows]) => `[${lua(k)}] = ${lua(rows.map(([id, size]) => ({ id, size })))}`).join(", ")} }`;
        // Ranges asked in reverse order: a range needs nothing of the pages before it.
        const seen = lines(`local data = ${data}
local accounts = ${lua(names)}
local function read(user) return data[user] or {} end
local out = {}
local starts = {}
for s = 0, #accounts - 1, ${size} do table.insert(starts, 1, s) end
for _, s in ipairs(starts) do
  local stop = math.min(s + ${size}, #accounts)
  local cursor, rows, pages = { index = s }, {}, 0
  repeat
    local p = host_clients.page(accounts, cursor, { records = ${limits.records}, bytes = ${limits.bytes}, accounts = ${limits.accounts}, seconds = 1e9, stop = stop }, read, function () return 0 end)
    for _, item in ipairs(p.rows) do rows[#rows + 1] = item.user .. " " .. item.row.id end
    assert(p.complete == (p.scanned >= #accounts and p.scanned >= stop), "complete only at the end")
    cursor = host_clients.parse_cursor(p.last)
    pages = pages + 1
    assert(pages < 500)
  until p.scanned >= stop
  out[s] = table.concat(rows, ",")
end
for s = 0, #accounts - 1, ${size} do if out[s] ~= "" then io.write(out[s], "\\n") end end`).filter((l) => l !== "").flatMap((l) => l.split(","));
        const expected = names.flatMap((u) => accounts[u]!.map(([id]) => `${u} ${id}`));
        assert.deepEqual([...seen].sort(), [...expected].sort());
        assert.deepEqual(seen.map((r) => r.split(" ")[0]), expected.map((r) => r.split(" ")[0]), "accounts in order");
      },
    ),
    { numRuns: 60 },
  );
});
