// Values sent to the admin socket are hex-encoded inside Lua string literals. These tests run
// the generated Lua in a real Lua 5.4 interpreter and check that every input comes back as
// the exact same bytes and that no input ever runs as code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { luaHexString, listClientsLua, revokeClientLua } from "../../src/socket/lua.js";

const LUA = ["lua5.4", "lua"].find((bin) => {
  try {
    execFileSync(bin, ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

test("literals hold only hex digits", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      assert.match(luaHexString(s), /^"[0-9a-f]*"$/);
    }),
    { numRuns: 5000 },
  );
});

test("generated chunks keep every input inside its literal", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (jid, selector) => {
      const chunk = revokeClientLua(jid, selector);
      assert.ok(chunk.startsWith(`>local JID, SELECTOR = ${luaHexString(jid)}, ${luaHexString(selector)} `));
      const rest = chunk.slice(`>local JID, SELECTOR = ${luaHexString(jid)}, ${luaHexString(selector)} `.length);
      assert.equal(rest, revokeClientLua("", "").slice(`>local JID, SELECTOR = "", "" `.length), "input never changes the code around it");
      assert.ok(!listClientsLua(jid).includes("\n"), "one line");
    }),
    { numRuns: 1000 },
  );
});

test("a real Lua interpreter decodes every input to the identical bytes", { skip: LUA ? false : "no Lua interpreter" }, () => {
  const inputs = fc.sample(fc.string({ unit: "binary", maxLength: 64 }), 300);
  inputs.push(`"]]..os.exit(1)--`, "\\\"", "\u0000", "x\ny", "%s%q", "</repl-input>");
  // The same unhex function the chunks carry, applied to each literal; output as hex to compare bytes.
  const unhex = listClientsLua("").match(/local function unhex\(h\).*? end\)\) end/)![0];
  const script = [
    unhex,
    ...inputs.map((s) => `io.write((unhex(${luaHexString(s)}):gsub(".", function(c) return string.format("%02x", c:byte()) end)), "\\n")`),
  ].join("\n");
  const out = execFileSync(LUA!, ["-"], { input: script, encoding: "utf8" }).replace(/\n$/, "").split("\n");
  assert.equal(out.length, inputs.length);
  inputs.forEach((s, i) => assert.equal(out[i] ?? "", Buffer.from(s, "utf8").toString("hex")));
});

test("the hand-written JSON string encoder in the listing chunk round-trips through JSON.parse", { skip: LUA ? false : "no Lua interpreter" }, () => {
  const inputs = fc.sample(fc.string({ unit: "binary", maxLength: 48 }), 300).map((s) => s.toWellFormed());
  inputs.push('quote " backslash \\ slash /', "\u0000\u001f\u007f\u0080\u009b\u202e\u2028", "tab\tnl\ncr\r", "");
  const chunk = listClientsLua("");
  const unhex = chunk.match(/local function unhex\(h\).*? end\)\) end/)![0];
  const encoder = chunk.slice(chunk.indexOf("local esc"), chunk.indexOf("local out"));
  const script = [unhex, encoder, ...inputs.map((s) => `io.write(str(unhex(${luaHexString(s)})), "\\n")`)].join("\n");
  const out = execFileSync(LUA!, ["-"], { input: script, encoding: "utf8" }).replace(/\n$/, "").split("\n");
  assert.equal(out.length, inputs.length);
  inputs.forEach((s, i) => assert.equal(JSON.parse(out[i]!), s));
});

test("bytes that are not UTF-8 become U+FFFD instead of breaking the reply", { skip: LUA ? false : "no Lua interpreter" }, () => {
  const chunk = listClientsLua("");
  const encoder = chunk.slice(chunk.indexOf("local esc"), chunk.indexOf("local out"));
  const out = execFileSync(LUA!, ["-"], { input: `${encoder}\nio.write(str("ok\\255\\254x\\192"))`, encoding: "utf8" });
  assert.equal(JSON.parse(out), "ok\ufffd\ufffdx\ufffd");
});
