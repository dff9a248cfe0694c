// The server's side of the host-wide filters (src/socket/lua/client_filter.lua) and of the streamed
// record stream (record_stream.open), run in a real Lua 5.4 interpreter. The filter must agree
// with camctl's own matchesFilter: exactly, except that it may keep more where it cannot decide
// (globs with non-ASCII letters), never less.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { matchesFilter, NO_FILTER, type ClientFilter, type HostClientRecord } from "../../src/core/filters.js";
import { isoFromUnix } from "../../src/core/model.js";
import { filterForServer } from "../../src/transports/socket/socket-source.js";
import { NO_LUA, luaBytes, luaFiles, runLua } from "../helpers/lua-interpreter.js";

/** A JSON value as a Lua literal (what util.json.decode gives the server). */
function luaValue(v: unknown): string {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "string") return luaBytes(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `{ ${v.map(luaValue).join(", ")} }`;
  return `{ ${Object.entries(v as Record<string, unknown>).map(([k, x]) => `[${luaBytes(k)}] = ${luaValue(x)}`).join(", ")} }`;
}

interface Case {
  filter: ClientFilter;
  localpart: string;
  d: { type: "session" | "access"; connected: boolean; last_seen: number | null; expires: number | null; auth: string[]; software: string | null; version: string | null };
}

const HOST = "example.com";

function record(c: Case): HostClientRecord {
  return {
    account: `${c.localpart}@${HOST}`,
    id: "client/x",
    type: c.d.type,
    connected: c.d.connected,
    firstSeen: null,
    lastSeen: isoFromUnix(c.d.last_seen),
    expires: isoFromUnix(c.d.expires),
    auth: [...c.d.auth].sort(),
    userAgent: { software: c.d.software, version: c.d.version, softwareId: null, uri: null, device: null },
    permission: null,
  };
}

/** Runs every case through client_filter.lua; "1" where it keeps the client. */
function serverVerdicts(cases: Case[]): boolean[] {
  const rows = cases.map((c) => {
    const d = { ...c.d, auth: c.d.auth };
    return `{ f = ${luaValue(filterForServer(c.filter))}, user = ${luaBytes(c.localpart)}, d = ${luaValue(d)} }`;
  });
  const out = runLua(`${luaFiles("client_filter")}
for _, case in ipairs({ ${rows.join(",\n")} }) do
  local f = client_filter.compile(case.f)
  io.write((client_filter.account_matches(f, case.user, ${luaBytes(HOST)}) and client_filter.client_matches(f, case.d)) and "1" or "0")
end`);
  return [...out].map((ch) => ch === "1");
}

const T0 = 1_790_000_000;
const time = fc.option(fc.integer({ min: T0 - 3, max: T0 + 3 }), { nil: null });
const name = fc.constantFrom("Gajim", "Evil Client", "Evil", "Ünïcode", "Two\nLines", "");
const version = fc.option(fc.constantFrom("2.3", "2.4", ""), { nil: null });
const localpart = fc.stringMatching(/^[a-z0-9._ü-]{1,6}$/);
const glob = fc.array(fc.constantFrom("a", "b", "A", "*", "?", ".", "ü", "Ü", "@", "example.com", "-"), { minLength: 1, maxLength: 6 }).map((p) => p.join(""));
const methods = fc.subarray(["password", "grant", "fast"]);

const filterArb: fc.Arbitrary<ClientFilter> = fc.record({
  lastSeenBefore: time,
  lastSeenAfter: time,
  expiresBefore: time,
  noExpiry: fc.boolean(),
  software: fc.option(fc.record({ name: name.filter((n) => n !== ""), version: version.filter((v) => v !== ""), exact: fc.constant(true) }), { nil: null }),
  auth: methods,
  type: fc.constantFrom(null, "session" as const, "access" as const),
  connected: fc.constantFrom(null, true, false),
  account: fc.option(glob, { nil: null }),
  // Account-level (client_filter.activity_matches), not per client: covered by account-activity.test.ts.
  accountInactiveSince: fc.constant(null),
});

const caseArb: fc.Arbitrary<Case> = fc.record({
  filter: filterArb,
  localpart,
  d: fc.record({
    type: fc.constantFrom("session" as const, "access" as const),
    connected: fc.boolean(),
    last_seen: time,
    expires: time,
    auth: methods,
    software: fc.option(name, { nil: null }),
    version,
  }),
});

test("the server's filter agrees with camctl's matchesFilter (keeps more only for non-ASCII globs)", { skip: NO_LUA }, () => {
  const cases = fc.sample(caseArb, { numRuns: 3000, seed: 4711 });
  // Boundaries by hand: the exact second, never seen, no expiry.
  const at = (filter: Partial<ClientFilter>, d: Partial<Case["d"]>): Case => ({
    filter: { ...NO_FILTER, ...filter },
    localpart: "alice",
    d: { type: "access", connected: false, last_seen: T0, expires: null, auth: ["grant"], software: "App", version: "1", ...d },
  });
  cases.push(
    at({ lastSeenBefore: T0 }, {}), at({ lastSeenBefore: T0 + 1 }, {}), at({ lastSeenBefore: T0 }, { last_seen: null }),
    at({ lastSeenAfter: T0 }, {}), at({ lastSeenAfter: T0 - 1 }, {}), at({ lastSeenAfter: T0 }, { last_seen: null }),
    at({ expiresBefore: T0 }, { expires: T0 }), at({ expiresBefore: T0 + 1 }, { expires: T0 }), at({ expiresBefore: T0 }, {}),
    at({ noExpiry: true }, {}), at({ noExpiry: true }, { expires: T0 }), at({ noExpiry: true }, { type: "session" }),
    at({ connected: false }, { connected: true }), at({ connected: false }, {}),
    at({ software: { name: "App", version: null, exact: true } }, {}), at({ software: { name: "App", version: "1", exact: true } }, {}), at({ software: { name: "App", version: "2", exact: true } }, {}),
    at({ account: "ALI*" }, {}), at({ account: "al?ce" }, {}), at({ account: "*@example.com" }, {}), at({ account: "a*@*" }, {}), at({ account: "alice@" }, {}),
  );
  const server = serverVerdicts(cases);
  let compared = 0;
  cases.forEach((c, i) => {
    const camctl = matchesFilter(record(c), c.filter);
    const what = JSON.stringify(c);
    if (c.filter.account !== null && /[^\x00-\x7f]/.test(c.filter.account)) {
      if (camctl) assert.ok(server[i], `the server dropped what camctl keeps: ${what}`);
    } else {
      assert.equal(server[i], camctl, what);
      compared++;
    }
  });
  assert.ok(compared > cases.length / 2, `${compared} compared exactly`);
});

test("filterForServer leaves out what does not filter, and keeps --disconnected", () => {
  assert.deepEqual(filterForServer(NO_FILTER), {});
  assert.deepEqual(filterForServer({ ...NO_FILTER, connected: false, software: { name: "Gajim", version: null, exact: true } }), { connected: false, software: { name: "Gajim" } });
  assert.deepEqual(filterForServer({ ...NO_FILTER, noExpiry: true, auth: ["fast"] }), { noExpiry: true, auth: ["fast"] });
});

test("a field of the wrong type filters nothing (the server sends more, never less)", { skip: NO_LUA }, () => {
  const out = runLua(`${luaFiles("client_filter")}
local d = { type = "session", connected = true, last_seen = 5, expires = nil, auth = { "password" }, software = "Gajim" }
for _, f in ipairs({ { lastSeenBefore = "1" }, { connected = "false" }, { auth = "grant" }, { auth = { 1 } }, { software = "Other" }, { type = "grant" }, { account = 7 }, "junk" }) do
  local c = client_filter.compile(f)
  io.write((client_filter.account_matches(c, "alice", "example.com") and client_filter.client_matches(c, d)) and "1" or "0")
end`);
  assert.equal(out, "11111111");
});

/** Streams `lines` with record_stream.open at the given piece size; batches end with flush(). */
function streamOpen(batches: string[][], pieceBytes: number) {
  const script = `${luaFiles("record_stream")}
local out, waits = {}, 0
local sink = { print = function (s) out[#out + 1] = s end, base64 = function (s) return s end, wait = function () waits = waits + 1 end }
local w = record_stream.open(sink, ${pieceBytes})
local hex = function(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
for _, batch in ipairs({ ${batches.map((b) => `{ ${b.map((l) => luaBytes(l)).join(", ")} }`).join(", ")} }) do
  for _, line in ipairs(batch) do w.line(line) end
  w.flush()
  io.write("batch ", #out, "\\n")
end
local trailer = w.finish({ host = "h" })
for _, p in ipairs(out) do io.write("piece ", hex(p), "\\n") end
io.write("waits ", waits, "\\n", "trailer ", hex(trailer), "\\n")`;
  const pieces: string[] = [];
  const afterBatch: number[] = [];
  let waits = -1;
  let trailer: Record<string, unknown> = {};
  for (const line of runLua(script).trim().split("\n")) {
    const [kind, value = ""] = line.split(" ");
    if (kind === "batch") afterBatch.push(Number(value));
    else if (kind === "waits") waits = Number(value);
    else {
      const text = Buffer.from(value, "hex").toString("utf8");
      assert.ok(text.startsWith("base64:"));
      if (kind === "piece") pieces.push(text.slice("base64:".length));
      else trailer = JSON.parse(text.slice("base64:".length)) as Record<string, unknown>;
    }
  }
  return { pieces, afterBatch, waits, trailer };
}

test("record_stream.open: each batch goes out at its flush, in pieces of at most the piece size; one trailer counts all", { skip: NO_LUA }, () => {
  const batches = [["[1]", "[2,\"" + "x".repeat(40) + "\"]"], [], ["{\"scanned\":3}"], ["[" + "9".repeat(130) + "]"]];
  const { pieces, afterBatch, waits, trailer } = streamOpen(batches, 32);
  const text = batches.flat().map((l) => l + "\n").join("");
  assert.equal(pieces.join(""), text);
  assert.ok(pieces.every((p) => Buffer.byteLength(p) <= 32));
  // Nothing of a batch waits for the next one: after each flush, everything so far is out.
  let sent = 0;
  afterBatch.forEach((n, i) => {
    sent += batches[i]!.map((l) => l.length + 1).reduce((a, b) => a + b, 0);
    assert.equal(pieces.slice(0, n).join("").length, sent, `batch ${i}`);
  });
  assert.equal(waits, pieces.length, "io.wait after every piece");
  assert.deepEqual(trailer, { more: false, pieces: pieces.length, bytes: text.length, records: batches.flat().length, host: "h" });
});
