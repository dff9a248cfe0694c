// camctl watch without a server: --for and --count, the record made of a server line, the output
// lines (hostile strings), and the watcher's queue in the server (host_watch.lib.lua) run in a real
// Lua 5.4 interpreter with stand-ins for Prosody's events and timer: what is sent while there is
// room, what waits, what is dropped and counted, and that stopping removes every handler.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CamError } from "../../src/core/errors.js";
import { parseWatchCount, parseWatchDuration, watchItemFromServer, type WatchEvent } from "../../src/core/watch.js";
import { watchJsonLine, watchTextLine } from "../../src/render/watch.js";
import { HOSTILE, UNSAFE_FOR_TERMINAL } from "../helpers/hostile-strings.js";
import { NO_LUA, luaFiles, runLua } from "../helpers/lua-interpreter.js";

test("--for takes a positive duration with a unit; anything else is a usage error", () => {
  assert.equal(parseWatchDuration("30s"), 30);
  assert.equal(parseWatchDuration("5m"), 300);
  assert.equal(parseWatchDuration("1.5h"), 5400);
  assert.equal(parseWatchDuration("500ms"), 0.5);
  assert.equal(parseWatchDuration("2d"), 172800);
  for (const bad of ["", "30", "0s", "-5s", "5 minutes", "1y", "400d", "soon\u001b[2J"]) {
    assert.throws(() => parseWatchDuration(bad), (e: unknown) => e instanceof CamError && e.kind === "usage" && !/\u001b/.test(e.message), bad);
  }
});

test("--count takes a whole number of at least 1", () => {
  assert.equal(parseWatchCount("1"), 1);
  assert.equal(parseWatchCount("250"), 250);
  for (const bad of ["0", "-1", "1.5", "two", ""]) assert.throws(() => parseWatchCount(bad), (e: unknown) => e instanceof CamError && e.kind === "usage", bad);
});

test("a server line becomes the record: every field present, null when absent or not a string", () => {
  const at = new Date("2026-12-07T10:00:00Z");
  const item = watchItemFromServer(
    { event: "login-failed", time_ms: 1796637600123, account: "bob@example.com", ip: "203.0.113.7", client: 5, mechanism: "PLAIN", detail: "not-authorized" },
    "example.com",
    at,
  );
  assert.deepEqual(item, {
    kind: "event",
    event: {
      time: "2026-12-07T10:00:00.123Z", host: "example.com", account: "bob@example.com", event: "login-failed", ip: "203.0.113.7",
      clientId: null, software: null, device: null, mechanism: "PLAIN", detail: "not-authorized", dropped: null,
    },
  });
  const dropped = watchItemFromServer({ dropped: 12 }, "example.com", at);
  assert.equal(dropped?.kind === "event" && dropped.event.event, "dropped");
  assert.equal(dropped?.kind === "event" && dropped.event.dropped, 12);
  assert.equal(dropped?.kind === "event" && dropped.event.time, "2026-12-07T10:00:00.000Z");
  assert.deepEqual(watchItemFromServer({ heartbeat: 1 }, "example.com", at), { kind: "heartbeat" });
  for (const unknown of [{ event: "reboot" }, { event: "dropped" }, [], null, "login", { watching: "example.com" }]) {
    assert.equal(watchItemFromServer(unknown, "example.com", at), null, JSON.stringify(unknown));
  }
});

const event = (over: Partial<WatchEvent>): WatchEvent => ({
  time: "2026-12-07T10:00:00.123Z", host: "example.com", account: "alice@example.com", event: "login", ip: "198.51.100.2",
  clientId: "client/abc", software: "Dino", device: "laptop", mechanism: "SCRAM-SHA-1", detail: null, dropped: null, ...over,
});

test("NDJSON: one line, the documented fields in order, context first when there is one", () => {
  const line = watchJsonLine(event({ context: "prod" }));
  assert.ok(line.endsWith("}\n") && !line.slice(0, -1).includes("\n"));
  assert.deepEqual(Object.keys(JSON.parse(line)), ["context", "time", "host", "account", "event", "ip", "clientId", "software", "device", "mechanism", "detail", "dropped"]);
  assert.deepEqual(Object.keys(JSON.parse(watchJsonLine(event({})))), ["time", "host", "account", "event", "ip", "clientId", "software", "device", "mechanism", "detail", "dropped"]);
});

test("NDJSON lines carry no raw control, escape or bidi character, and the values survive parsing", () => {
  for (const hostile of Object.values(HOSTILE)) {
    const e = event({ account: `${hostile}@example.com`, software: hostile, device: hostile, detail: hostile, clientId: `client/${hostile}`, context: hostile });
    const line = watchJsonLine(e);
    assert.doesNotMatch(line.slice(0, -1), UNSAFE_FOR_TERMINAL, JSON.stringify(line));
    const back = JSON.parse(line);
    assert.equal(back.software, hostile);
    assert.equal(back.context, hostile);
  }
});

test("readable lines never carry a control character, escape or bidi override from the server", () => {
  for (const hostile of Object.values(HOSTILE)) {
    const line = watchTextLine(event({ account: `${hostile}@example.com`, software: hostile, device: hostile, detail: hostile, clientId: `client/${hostile}`, context: hostile }));
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), JSON.stringify(line));
    assert.doesNotMatch(line.slice(0, -1), UNSAFE_FOR_TERMINAL, JSON.stringify(line));
  }
  assert.equal(
    watchTextLine(event({})),
    "2026-12-07 10:00:00Z  login             alice@example.com  from 198.51.100.2  client/abc (Dino on laptop)  SCRAM-SHA-1\n",
  );
});

// Stand-ins for what host_watch uses of Prosody: util.events' add/remove/fire/get_handlers, a timer
// that the test ticks by hand, a clock the test moves.
const PROSODY_STANDINS = `
local function new_events()
  local map = {}
  local e = {}
  function e.add_handler(name, h, p) map[name] = map[name] or {}; map[name][h] = p or 0 end
  function e.remove_handler(name, h) if map[name] then map[name][h] = nil end end
  function e.get_handlers(name) local l = {} for h in pairs(map[name] or {}) do l[#l + 1] = h end return #l > 0 and l or nil end
  function e.fire_event(name, data) for h in pairs(map[name] or {}) do local r = h(data) if r ~= nil then return r end end end
  return e
end
prosody = { hosts = { ["example.com"] = { events = new_events() } }, events = new_events() }
local ticks = {}
NOW = 1000
package.preload["prosody.util.timer"] = function () return { add_task = function (_, f) ticks[#ticks + 1] = f end } end
package.preload["prosody.util.time"] = function () return { now = function () return NOW end } end
function tick() local keep = {} for _, f in ipairs(ticks) do if f() then keep[#keep + 1] = f end end ticks = keep end
function timers() return #ticks end
`;

test("the server's watcher: sends while there is room, queues, drops and counts when full, says so in place; stop removes every handler", { skip: NO_LUA }, () => {
  const out = runLua(`${PROSODY_STANDINS}
${luaFiles("host_watch")}
local host_events = prosody.hosts["example.com"].events
local function handlers()
  local n = 0
  for _, name in ipairs(host_watch.HOST_EVENTS) do n = n + #(host_events.get_handlers(name) or {}) end
  for _, name in ipairs(host_watch.GLOBAL_EVENTS) do n = n + #(prosody.events.get_handlers(name) or {}) end
  n = n + #(prosody.events.get_handlers("admin-disconnected") or {})
  return n
end
local before = handlers()
local room, connected, sent = true, true, {}
local w = host_watch.watch("example.com", {
  queue_max = 3, heartbeat = 5,
  room = function () return room end,
  connected = function () return connected end,
  flush = function () sent[#sent + 1] = "(flush)" end,
  send = function (r) sent[#sent + 1] = r.dropped and ("dropped " .. r.dropped) or r.heartbeat and "heartbeat" or (r.event .. " " .. tostring(r.account) .. " " .. tostring(r.ip)) end,
  ends = { events = prosody.events, name = "admin-disconnected", matches = function (e) return e.session == "me" end },
  log = function () end,
})
print("hooked", handlers() - before)
local function fail(name) host_events.fire_event("authentication-failure", { session = { ip = "192.0.2.9", sasl_handler = { username = name, selected = "PLAIN" } }, condition = "not-authorized" }) end
fail("a")
tick()                                 -- sent on the loop's next turn
room = false
for i = 1, 6 do fail("q" .. i) end   -- 3 wait, 3 are dropped
prosody.events.fire_event("user-disabled", { username = "other", host = "elsewhere.example" })  -- another host: not ours
room = true
tick()                                 -- the queue drains, then the drop count
fail("z")
tick()
NOW = NOW + 6; tick()                  -- idle: a heartbeat
room = false
fail("w1"); fail("w2"); fail("w3"); fail("w4"); fail("w5")   -- 3 wait, 2 dropped
room = true
fail("after")                          -- the queue is full but can leave now: it goes, then the drops
tick()
fail("last")
tick()
local flushes = 0
for _, s in ipairs(sent) do if s == "(flush)" then flushes = flushes + 1 else print(s) end end
print("flushes", flushes)
prosody.events.fire_event("admin-disconnected", { session = "someone else" })
print("still hooked", handlers() - before)
prosody.events.fire_event("admin-disconnected", { session = "me" })
print("left", handlers() - before)
tick()
print("timers", timers())
fail("gone")
print("sent", #sent - flushes)
`);
  assert.equal(out, [
    "hooked\t11",
    "login-failed a@example.com 192.0.2.9",
    "login-failed q1@example.com 192.0.2.9",
    "login-failed q2@example.com 192.0.2.9",
    "login-failed q3@example.com 192.0.2.9",
    "dropped 3",
    "login-failed z@example.com 192.0.2.9",
    "heartbeat",
    "login-failed w1@example.com 192.0.2.9",
    "login-failed w2@example.com 192.0.2.9",
    "login-failed w3@example.com 192.0.2.9",
    "dropped 2",
    "login-failed after@example.com 192.0.2.9",
    "login-failed last@example.com 192.0.2.9",
    "flushes\t7",
    "still hooked\t11",
    "left\t0",
    "timers\t0",
    "sent\t13",
    "",
  ].join("\n"));
});

test("the server's watcher ends when its connection is found gone, even without the end event", { skip: NO_LUA }, () => {
  const out = runLua(`${PROSODY_STANDINS}
${luaFiles("host_watch")}
local connected = true
host_watch.watch("example.com", {
  room = function () return true end, connected = function () return connected end, send = function () end,
  ends = { events = prosody.events, name = "admin-disconnected", matches = function () return false end },
  log = function () end,
})
print(host_watch.count_handlers("example.com"))
connected = false
tick()
print(host_watch.count_handlers("example.com"), #(prosody.events.get_handlers("admin-disconnected") or {}), timers())
`);
  assert.equal(out, "10\n0\t0\t0\n");
});
