// Values sent to the admin socket are hex-encoded inside Lua string literals. These tests check
// that every input comes back as the exact same bytes in a real Lua 5.4 interpreter and that no
// input ever changes the code around it.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_OPERATOR_NAME, argsTable, luaHexString, operatorArgs, requestChunk } from "../../src/transports/socket/lua.js";
import { NO_LUA, luaFiles, runLua } from "../helpers/lua-interpreter.js";

test("literals hold only hex digits", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      assert.match(luaHexString(s), /^"[0-9a-f]*"$/);
    }),
    { numRuns: 5000 },
  );
});

test("a request chunk is its ARGS line of hex literals, then code that no input changes", () => {
  const rest = (chunk: string) => chunk.slice(chunk.indexOf("\n"));
  const plain = requestChunk("revoke", { jid: "", id: "", type: "", first_seen: "", software: "", device: "" });
  fc.assert(
    fc.property(fc.array(fc.string({ unit: "binary" }), { minLength: 6, maxLength: 6 }), ([jid, id, type, firstSeen, software, device]) => {
      const chunk = requestChunk("revoke", { jid, id, type, first_seen: firstSeen, software, device });
      const hex = (s: string | undefined) => luaHexString(s ?? "");
      assert.equal(
        chunk.slice(0, chunk.indexOf("\n")),
        `>local ARGS = { jid = ${hex(jid)}, id = ${hex(id)}, type = ${hex(type)}, first_seen = ${hex(firstSeen)}, software = ${hex(software)}, device = ${hex(device)} }`,
      );
      assert.equal(rest(chunk), rest(plain), "input never changes the code around it");
    }),
    { numRuns: 1000 },
  );
});

test("absent values are left out of ARGS (Lua sees nil, not an empty string)", () => {
  const chunk = requestChunk("revoke", { jid: "a@b", id: "client/x", type: "session", first_seen: null, software: undefined, device: "" });
  assert.equal(chunk.slice(0, chunk.indexOf("\n")), `>local ARGS = { jid = ${luaHexString("a@b")}, id = ${luaHexString("client/x")}, type = ${luaHexString("session")}, device = "" }`);
  assert.throws(() => requestChunk("list", { "x = os.exit() --": "a" }), /not a Lua argument name/);
});

test("admin_requests.unhex decodes every input to the identical bytes", { skip: NO_LUA }, () => {
  const inputs = fc.sample(fc.string({ unit: "binary", maxLength: 64 }), 300);
  inputs.push(`"]]..os.exit(1)--`, "\\\"", "\u0000", "x\ny", "%s%q", "</repl-input>", "");
  const script = [
    "print = function() end", // admin_requests only prints while answering; nothing here answers
    luaFiles("admin_requests"),
    ...inputs.map((s) => `io.write((admin_requests.unhex(${luaHexString(s)}):gsub(".", function(c) return string.format("%02x", c:byte()) end)), "\\n")`),
    `io.write(tostring(admin_requests.unhex(nil)), "\\n")`,
  ].join("\n");
  const out = runLua(script).replace(/\n$/, "").split("\n");
  assert.equal(out.length, inputs.length + 1);
  inputs.forEach((s, i) => assert.equal(out[i] ?? "", Buffer.from(s, "utf8").toString("hex")));
  assert.equal(out[inputs.length], "nil");
});

test("the OS user and $SUDO_USER travel hex-encoded, cut to MAX_OPERATOR_NAME characters; absent ones are left out", () => {
  const long = "\u00e9".repeat(MAX_OPERATOR_NAME + 10);
  const args = operatorArgs({ user: "root", sudoUser: long });
  assert.equal(args.os_user, "root");
  assert.equal(args.sudo_user, "\u00e9".repeat(MAX_OPERATOR_NAME));
  assert.deepEqual(operatorArgs({ user: undefined, sudoUser: "" }), { os_user: null, sudo_user: null });
  assert.equal(argsTable(operatorArgs({ user: "a\"]]..os.exit()--", sudoUser: undefined })), `{ os_user = ${luaHexString("a\"]]..os.exit()--")} }`);
});

test("the Lua camctl sends is ASCII: one character beyond it would make every request a two-byte string", async () => {
  // (In V8 a string holding any character beyond Latin-1 takes two bytes per character: every copy
  // of a request, and the single executable's start-up snapshot, would double.)
  const { LUA_SOURCES } = await import("../../src/transports/socket/lua-sources.js");
  for (const [name, source] of Object.entries(LUA_SOURCES)) {
    const at = source.search(/[^\x00-\x7f]/);
    assert.equal(at, -1, `${name}: a non-ASCII character at offset ${at}: ${JSON.stringify(source.slice(Math.max(0, at - 20), at + 5))}`);
  }
});
