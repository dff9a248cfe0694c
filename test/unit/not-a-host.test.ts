// "x is not a host of this Prosody server": record_stream.lua's host_not_found, run in a real Lua
// 5.4 interpreter with a server of many hosts (the sandbox has three), read by camctl's
// notAHostError: the first five virtual hosts in order and how many more, components left out,
// hostile names shown escaped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { notAHostError } from "../../src/transports/socket/not-a-host.js";
import { NO_LUA, luaFiles, runLua } from "../helpers/lua-interpreter.js";

/** The trailer meta host_not_found gives on a server whose hosts are `hosts` (name → type). */
function trailerMeta(hosts: Record<string, string>): Record<string, unknown> {
  const table = Object.entries(hosts).map(([name, type]) => `[${JSON.stringify(name)}] = { type = ${JSON.stringify(type)} }`).join(", ");
  const script = `package.preload["prosody.util.encodings"] = function() return { base64 = { encode = function(s) return s end } } end
prosody = { hosts = { ${table} } }
${luaFiles("record_stream")}
io.write(json_lines.object(record_stream.host_not_found("nowhere.example")))`;
  return JSON.parse(runLua(script)) as Record<string, unknown>;
}

test("many hosts: the first five, sorted, and how many more; components are not virtual hosts", { skip: NO_LUA }, () => {
  const hosts: Record<string, string> = { "conference.a.example": "component", "upload.a.example": "component" };
  for (const name of ["h.example", "b.example", "g.example", "a.example", "f.example", "c.example", "e.example", "d.example"]) hosts[name] = "local";
  const meta = trailerMeta(hosts);
  assert.deepEqual([meta.err, meta.host, meta.host_count], ["host-not-found", "nowhere.example", 8]);
  const e = notAHostError("nowhere.example", meta);
  assert.equal(e.kind, "notFound");
  assert.equal(e.message, "nowhere.example is not a host of this Prosody server; its virtual hosts are a.example, b.example, c.example, d.example, e.example and 3 more.");
});

test("one host, and none", { skip: NO_LUA }, () => {
  assert.equal(notAHostError("x.example", trailerMeta({ "a.example": "local" })).message, "x.example is not a host of this Prosody server; its virtual host is a.example.");
  assert.equal(notAHostError("x.example", trailerMeta({ "c.example": "component" })).message, "x.example is not a host of this Prosody server; it serves no virtual host.");
});

test("names from the server and the command line are shown escaped", () => {
  const e = notAHostError("evil\x1b[2J.example", { err: "host-not-found", hosts: "a.example b\x1b]0;x\x07.example", host_count: 2 });
  assert.doesNotMatch(e.message, /\x1b|\x07/);
  assert.equal(e.message, "evil\\x1b[2J.example is not a host of this Prosody server; its virtual hosts are a.example and b\\x1b]0;x\\x07.example.");
});
