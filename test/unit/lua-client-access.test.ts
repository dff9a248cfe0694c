// The pure parts of client_access.lib.lua (shared by the companion module and the socket), run in
// a real Lua 5.4 interpreter: times, texts, and how a listed client is recognised again.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isoFromUnix } from "../../src/core/model.js";
import { NO_LUA, luaBytes, luaFiles, runLua } from "../helpers/lua-interpreter.js";

const lines = (script: string) => runLua(`${luaFiles("client_access")}\n${script}`).replace(/\n$/, "").split("\n");

test("whole_seconds: a four-digit year or nothing, never an error", { skip: NO_LUA }, () => {
  const cases: Array<[string, string]> = [
    ["1e300", "nil"], ["-1e300", "nil"], ["0/0", "nil"], ["math.huge", "nil"], ["-math.huge", "nil"], ["nil", "nil"], ['"abc"', "nil"], ["{}", "nil"],
    ['"1700000000"', "1700000000"], ["1700000000.9", "1700000000"], ["-0.5", "-1"],
    ["253402300799", "253402300799"], ["253402300800", "nil"], ["-62167219200", "-62167219200"], ["-62167219201", "nil"],
  ];
  const out = lines(cases.map(([v]) => `io.write(tostring(client_access.whole_seconds(${v})), "\\n")`).join("\n"));
  assert.deepEqual(out, cases.map(([, want]) => want));
  // Integers, not floats: "%d" and JSON need them.
  assert.deepEqual(lines(`io.write(math.type(client_access.whole_seconds(1.5e9)), "\\n")`), ["integer"]);
});

test("iso8601 agrees with camctl's isoFromUnix over the whole range, and parse_iso8601 inverts it", { skip: NO_LUA }, () => {
  const times = fc.sample(fc.integer({ min: -62167219200, max: 253402300799 }), 400);
  times.push(-62167219200, 253402300799, 0, -1, 951782400 /* 2000-02-29 */, -2208988800, 1e300, 253402300800);
  const out = lines(`for _, t in ipairs({ ${times.join(", ")} }) do
  local iso = client_access.iso8601(t)
  io.write(tostring(iso), " ", tostring(iso and client_access.parse_iso8601(iso)), "\\n")
end`);
  times.forEach((t, i) => {
    const expected = isoFromUnix(t);
    assert.equal(out[i], expected === null ? "nil nil" : `${expected} ${t}`, `time ${t}`);
  });
});

test("parse_iso8601 takes UTC times only", { skip: NO_LUA }, () => {
  const inputs = ["2026-11-01T10:00:00Z", "2026-11-01T10:00:00.123Z", "2026-11-01T10:00:00+01:00", "2026-13-01T10:00:00Z", "yesterday", ""];
  assert.deepEqual(lines(inputs.map((s) => `io.write(tostring(client_access.parse_iso8601(${luaBytes(s)})), "\\n")`).join("\n")), ["1793527200", "1793527200", "nil", "nil", "nil", "nil"]);
});

test("xml_text: valid UTF-8 without the characters XML cannot carry", { skip: NO_LUA }, () => {
  const input = Buffer.concat([Buffer.from("a\x00b\x1bc\td\ne\rf\x7f"), Buffer.from([0xff]), Buffer.from("\uffff\ufffe\u202e g")]);
  const [hex] = lines(`io.write((client_access.xml_text(${luaBytes(input)}):gsub(".", function(c) return string.format("%02x", c:byte()) end)), "\\n")`);
  assert.equal(Buffer.from(hex!, "hex").toString("utf8"), "a\ufffdb\ufffdc\td\ne\rf\x7f\ufffd\ufffd\ufffd\u202e g");
});

test("same_client: the same type, first-seen second, software and device; XMPP's U+FFFD matches a raw control", { skip: NO_LUA }, () => {
  const client = `{ id = "client/x", type = "session", first_seen = 1700000000.4, active = { password = 1 },
    user_agent = { software = "Gaj\\27im", device = "laptop" } }`;
  const expectations: Array<[string, boolean]> = [
    [`{ type = "session", first_seen = 1700000000, software = "Gaj\\27im", device = "laptop" }`, true],
    [`{ type = "session", first_seen = 1700000000, software = "Gaj\\239\\191\\189im", device = "laptop" }`, true],
    [`{ type = "access", first_seen = 1700000000, software = "Gaj\\27im", device = "laptop" }`, false],
    [`{ type = "session", first_seen = 1700000001, software = "Gaj\\27im", device = "laptop" }`, false],
    [`{ type = "session", software = "Gaj\\27im", device = "laptop" }`, false],
    [`{ type = "session", first_seen = 1700000000, software = "Gajim", device = "laptop" }`, false],
    [`{ type = "session", first_seen = 1700000000, software = "Gaj\\27im" }`, false],
    [`{ type = "session", first_seen = 1700000000, software = "Gaj\\27im", device = "" }`, false],
  ];
  const out = lines(expectations.map(([e]) => `io.write(tostring(client_access.same_client(${client}, ${e})), "\\n")`).join("\n"));
  assert.deepEqual(out, expectations.map(([, same]) => String(same)));
  // No stored first-seen (or one with no four-digit year) matches an expectation without one.
  assert.deepEqual(lines(`io.write(tostring(client_access.same_client({ id = "grant/g", type = "access", first_seen = 1e300 }, { type = "access" })), "\\n")`), ["true"]);
});

test("describe shows what the JSON contract has, never a grant's secrets or internal fields", { skip: NO_LUA }, () => {
  const [keys] = lines(`local d = client_access.describe({ id = "client/x", type = "bogus", active = { connected = true, grant = { secret = 1 }, weird = 1 },
    full_jid = "a@b/c", mechanisms = {}, legacy = true, user_agent = { software = 7 } })
local keys = {} for k, v in pairs(d) do keys[#keys + 1] = k .. "=" .. (type(v) == "table" and table.concat(v, "+") or tostring(v)) end
table.sort(keys) io.write(table.concat(keys, " "), "\\n")`);
  assert.equal(keys, "auth=grant+weird connected=true id=client/x type=session");
});

test("condition_of: refusals are forbidden, anything else an internal error", { skip: NO_LUA }, () => {
  assert.deepEqual(lines(`for _, r in ipairs({ "forbidden", "not-authorized", "not-allowed", "internal-server-error", "x" }) do io.write(client_access.condition_of(r), "\\n") end`),
    ["forbidden", "forbidden", "forbidden", "internal-server-error", "internal-server-error"]);
});
